"""dvd_gan.predict and the export's `predict` signature (DVD-GAN-FP): one tiny FP run (2 frames + 3 predicted,
16x16) and its export are shared by the tests."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import export as export_lib
from dvd_gan import predict as predict_lib
from dvd_gan.config import base_config
from dvd_gan.training.loop import train
from eval import video_io, video_writer


def fp_config():
  """2 conditioning + 3 predicted frames at 16x16, widths 4, batch 4, 2 G steps with 1 D step each."""
  c = base_config()
  c.seed, c.num_frames, c.resolution, c.num_classes, c.batch_size = 1, 3, 16, 0, 4
  m = c.model
  m.z_dim = 8
  m.g_ch, m.g_multipliers, m.g_blocks_per_stage = 4, (2, 2, 1), 1
  m.g_rnn_attention, m.g_separable_attention_blocks = False, ()
  m.d_ch, m.ds_multipliers, m.dt_multipliers, m.dt_num_3d_blocks, m.ds_k = 4, (1, 2), (1, 2), 1, 2
  m.cond_multipliers = (1, 1, 2)
  c.data.name, c.data.stride, c.data.num_conditioning_frames = "synthetic", 1, 2
  t = c.train
  t.num_steps, t.d_steps_per_g_step, t.log_every, t.checkpoint_every, t.sample_every = 2, 1, 2, 2, 2
  t.num_sample_videos, t.ema_start_step, t.ema_decay = 2, 0, 0.5
  return c


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  """A trained tiny FP run, its export, and input videos: 3 of 20x24 pixels in one .npy, 1 gif of 16x16."""
  root = tmp_path_factory.mktemp("predict")
  workdir, exported = str(root / "run"), str(root / "export")
  train(fp_config(), workdir, log=lambda s: None)
  meta = export_lib.export(workdir, exported, log=lambda s: None)
  inputs = root / "inputs"
  inputs.mkdir()
  rng = np.random.default_rng(0)
  arrays = rng.integers(0, 256, size=[3, 6, 20, 24, 3], dtype=np.uint8)
  np.save(inputs / "a.npy", arrays)
  gif = rng.integers(0, 256, size=[4, 16, 16, 3], dtype=np.uint8)
  video_writer.write_video(str(inputs / "b.gif"), gif)
  return {"root": root, "workdir": workdir, "export": exported, "meta": meta, "inputs": str(inputs),
          "arrays": arrays}


def _main(*args):
  return predict_lib.main(["dvd_gan.predict", "--noprogress", *args])


def test_export_has_the_predict_signature(run):
  """An FP run exports `predict(frames uint8 [N, C, H, W, 3], seed, truncation)` (serving_default) giving
  [conditioning; predicted] frames: the first C equal the input frames, the same seed gives the same
  videos, another seed other predictions, truncation 0 a prediction independent of the seed."""
  meta = run["meta"]
  assert meta["num_conditioning_frames"] == 2 and set(meta["signatures"]) == {"predict", "serving_default"}
  sig = tf.saved_model.load(run["export"]).signatures["predict"]
  frames = np.random.default_rng(1).integers(0, 256, size=[2, 2, 16, 16, 3], dtype=np.uint8)

  def call(seed, truncation=1.0):
    return sig(frames=tf.constant(frames), seed=tf.constant(seed, tf.int64),
               truncation=tf.constant(truncation, tf.float32))

  a, b = call(3), call(4)
  assert a["video_uint8"].shape == (2, 5, 16, 16, 3) and a["predicted"].shape == (2, 3, 16, 16, 3)
  np.testing.assert_array_equal(a["video_uint8"].numpy()[:, :2], frames)
  np.testing.assert_array_equal(a["video_uint8"].numpy(), call(3)["video_uint8"].numpy())
  assert np.max(np.abs(a["predicted"].numpy() - b["predicted"].numpy())) > 1e-4
  np.testing.assert_allclose(call(3, 0.0)["predicted"].numpy(), call(4, 0.0)["predicted"].numpy(), atol=1e-6)


def test_predict_from_workdir_and_saved_model_agree(run):
  """--workdir and --saved_model write the same videos: one file per input video, in input order, each the
  input's first C frames (resized to 16x16 as the evaluation pipeline does) followed by T predicted frames;
  the manifest names each output's input."""
  root = run["root"]
  assert _main(f"--workdir={run['workdir']}", f"--videos={run['inputs']}", f"--out={root / 'p1'}",
               "--format=npy", "--batch_size=2", "--seed=5") == 0
  assert _main(f"--saved_model={run['export']}", f"--videos={run['inputs']}", f"--out={root / 'p2'}",
               "--format=npy", "--batch_size=2", "--seed=5") == 0
  with open(root / "p1" / "predictions.json") as f:
    manifest = json.load(f)
  assert manifest["num_videos"] == 4 and manifest["frames_per_video"] == 5 and manifest["seed"] == 5
  assert [e["input"] for e in manifest["videos"]][:3] == [f"{run['inputs']}/a.npy[{i}]" for i in range(3)]
  assert os.path.exists(root / "p1" / "COMPLETE")
  for i in range(4):
    a = np.load(root / "p1" / f"{i:06d}.npy")
    b = np.load(root / "p2" / f"{i:06d}.npy")
    assert a.shape == (5, 16, 16, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(np.load(root / "p1" / "000000.npy")[:2],
                                predict_lib.to_model_frames(run["arrays"][0, :2], 16))


def test_predict_writes_mp4_and_num(run):
  """--format=mp4 (the default) writes decodable videos of C + T frames; --num keeps the first N inputs."""
  out = run["root"] / "mp4"
  assert _main(f"--workdir={run['workdir']}", f"--videos={run['inputs']}", f"--out={out}", "--num=2") == 0
  files = sorted(p for p in os.listdir(out) if p.endswith(".mp4"))
  assert files == ["000000.mp4", "000001.mp4"]
  assert video_io.read_container(str(out / files[0])).shape[0] == 5


def test_predict_bad_input_is_one_line_exit_2(run, tmp_path, capsys):
  """Both or neither model flag, an existing --out, a synthesis export/run, videos shorter than C frames:
  exit status 2 and one `error:` line, and no output folder is left."""
  short = tmp_path / "short.npy"
  np.save(short, np.zeros([1, 16, 16, 3], np.uint8))
  synthesis_run = tmp_path / "synthesis"
  synthesis_run.mkdir()
  config = fp_config()
  config.data.num_conditioning_frames = 0
  with open(synthesis_run / "config.json", "w") as f:
    json.dump(config.to_dict(), f)
  cases = [
      ([f"--videos={run['inputs']}", f"--out={tmp_path / 'o1'}"], "exactly one of --workdir and --saved_model"),
      ([f"--workdir={run['workdir']}", f"--saved_model={run['export']}", f"--videos={run['inputs']}",
        f"--out={tmp_path / 'o2'}"], "exactly one"),
      ([f"--workdir={run['workdir']}", f"--videos={run['inputs']}", f"--out={run['root']}"], "exists"),
      ([f"--workdir={synthesis_run}", f"--videos={run['inputs']}", f"--out={tmp_path / 'o3'}"],
       "not a DVD-GAN-FP run"),
      ([f"--workdir={run['workdir']}", f"--videos={short}", f"--out={tmp_path / 'o4'}"], "too short"),
      ([f"--workdir={run['workdir']}", f"--out={tmp_path / 'o5'}"], "--videos is required"),
  ]
  for args, message in cases:
    capsys.readouterr()
    assert _main(*args) == 2, args
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], (args, err)
  assert not [p for p in os.listdir(tmp_path) if p.startswith(("o", ".tmp"))]
