"""Tests of dvd_gan.export: a tiny real training run is exported and served from a process without dvd_gan.

One module-scoped run (2 G steps of a 4-frame 16x16 class-conditional model on the synthetic data, EMA decay
0.5 from step 0 so that G_ema differs from G) and one export are shared by the tests.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import export as export_lib
from dvd_gan import run_folder
from dvd_gan.config import base_config
from dvd_gan.models import build
from dvd_gan.models.build import build_models
from dvd_gan.training import checkpointing
from dvd_gan.training.loop import train

Z_DIM = 8

# Runs in a fresh interpreter with dvd_gan made unimportable: loads the SavedModel with TensorFlow only.
_SERVE = textwrap.dedent("""
  import os, sys
  sys.modules["dvd_gan"] = None  # any import of dvd_gan now raises ImportError
  os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
  import numpy as np
  import tensorflow as tf
  export_dir, inputs, outputs = sys.argv[1:4]
  loaded = tf.saved_model.load(export_dir)
  sigs = loaded.signatures
  x = np.load(inputs)
  out = {"signature_names": np.array(sorted(sigs.keys()))}
  res = sigs["sample"](z=tf.constant(x["z"]), y=tf.constant(x["y"]))
  out["sample"] = res["video"].numpy()
  out["sample_first"] = sigs["sample"](z=tf.constant(x["z"][:1]), y=tf.constant(x["y"][:1]))["video"].numpy()
  def rand(tag, name, seed, truncation, **kw):
    r = sigs[name](seed=tf.constant(seed, tf.int64), truncation=tf.constant(truncation, tf.float32), **kw)
    for k, v in r.items():
      out[f"{tag}_{k}"] = v.numpy()
  b3 = tf.constant(3, tf.int32)
  for tag, seed, trunc in (("a", 3, 1.0), ("a_again", 3, 1.0), ("b", 4, 1.0), ("t0", 3, 0.0), ("t44", 3, 0.44)):
    rand(tag, "sample_random", seed, trunc, batch_size=b3)
  rand("default", "serving_default", 3, 1.0, batch_size=b3)
  rand("labels", "sample_random_labels", 3, 1.0, y=tf.constant([7, 0, 5], tf.int32))
  with tf.Graph().as_default(), tf.compat.v1.Session() as sess:  # the TF1 / TF Serving loader
    sig = tf.compat.v1.saved_model.loader.load(sess, ["serve"], export_dir).signature_def["sample_random"]
    feeds = {sig.inputs["batch_size"].name: 3, sig.inputs["seed"].name: 3, sig.inputs["truncation"].name: 1.0}
    out["tf1_video"] = sess.run(sig.outputs["video"].name, feed_dict=feeds)
  out["dvd_gan_imported"] = np.array([m for m in sys.modules if m.startswith("dvd_gan") and sys.modules[m]])
  np.savez(outputs, **out)
""")


def tiny_config():
  """4 frames at 16x16, ch 4, batch 4, one G block per stage, 2 G steps with 1 D step each;
  G_ema = 0.5 G_ema + 0.5 G from step 0."""
  c = base_config()
  c.num_frames, c.resolution, c.num_classes, c.batch_size = 4, 16, 0, 4
  m = c.model
  m.z_dim, m.embed_dim = Z_DIM, 8
  m.g_ch, m.g_multipliers = 4, (4, 2, 1)
  m.d_ch, m.ds_multipliers, m.dt_multipliers, m.ds_k = 4, (1, 2), (1, 2), 2
  m.dt_num_3d_blocks = 1
  m.g_blocks_per_stage = 1
  c.data.name, c.data.stride = "synthetic", 1
  t = c.train
  t.num_steps, t.d_steps_per_g_step = 2, 1
  t.ema_start_step, t.ema_decay = 0, 0.5
  t.log_every, t.checkpoint_every, t.sample_every, t.num_sample_videos = 1, 1000, 1000, 2
  c.eval.fvd_at_end = False
  return c


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("export_run") / "run")
  train(tiny_config(), workdir, log=lambda s: None)
  return workdir


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
  """Exports over a stale non-empty folder with overwrite=True; returns (export dir, meta)."""
  out = str(tmp_path_factory.mktemp("export_out") / "sampler")
  os.makedirs(out)
  with open(os.path.join(out, "stale.txt"), "w") as f:
    f.write("old export")
  meta = export_lib.export(run_dir, out, overwrite=True, log=lambda s: None)
  return out, meta


@pytest.fixture(scope="module")
def served(exported, tmp_path_factory):
  """Outputs of the export's signatures computed in a subprocess that cannot import dvd_gan."""
  out_dir, _ = exported
  tmp = tmp_path_factory.mktemp("serve")
  rng = np.random.default_rng(0)
  inputs = {"z": rng.standard_normal([3, Z_DIM]).astype(np.float32), "y": np.array([1, 6, 3], np.int32)}
  np.savez(tmp / "inputs.npz", **inputs)
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  proc = subprocess.run([sys.executable, "-c", _SERVE, out_dir, str(tmp / "inputs.npz"), str(tmp / "out.npz")],
                        cwd=str(tmp), env=env, capture_output=True, text=True, timeout=600, check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  with np.load(tmp / "out.npz") as f:
    outputs = {k: f[k] for k in f.files}
  return inputs, outputs


def _run_config(run_dir):
  with open(os.path.join(run_dir, "config.json")) as f:
    return ml_collections.ConfigDict(json.load(f))


def _restore(generator, run_dir, key):
  tf.train.Checkpoint(**{key: checkpointing.model_variables(generator)}).restore(tf.train.latest_checkpoint(
      os.path.join(run_dir, "checkpoints"))).expect_partial().assert_existing_objects_matched()
  return generator


@pytest.fixture(scope="module")
def g_ema(run_dir):
  """G_ema of the run's latest checkpoint, rebuilt with build_models (independently of dvd_gan.export)."""
  return _restore(build_models(_run_config(run_dir))[0], run_dir, "G_ema")


def test_sample_equals_restored_g_ema_in_inference_mode(run_dir, served, g_ema):
  """sample(z, y) served without dvd_gan equals G_ema(z, y, training=False) of the checkpoint (to 2e-3 on
  pixels in [-1, 1]: the served graph and the eager layers round differently, typically 1e-6, once 7.7e-4 with
  an unseeded run's weights), and is at least 10 times closer to it than G's output is (the export holds the
  EMA weights, not G's)."""
  inputs, out = served
  expected = g_ema(tf.constant(inputs["z"]), tf.constant(inputs["y"]), training=False).numpy()
  assert out["sample"].shape == (3, 4, 16, 16, 3) and out["sample"].dtype == np.float32
  np.testing.assert_allclose(out["sample"], expected, atol=2e-3, rtol=0)
  g = _restore(run_folder.build_generator(_run_config(run_dir)), run_dir, "G")
  other = g(tf.constant(inputs["z"]), tf.constant(inputs["y"]), training=False).numpy()
  served_error = np.max(np.abs(out["sample"] - expected))
  assert np.max(np.abs(other - expected)) > max(10 * served_error, 1e-3)
  assert out["dvd_gan_imported"].size == 0


def test_sample_uses_moving_batch_norm_statistics(served):
  """A video does not depend on the rest of its batch (batch norm in inference mode)."""
  _, out = served
  np.testing.assert_allclose(out["sample_first"][0], out["sample"][0], atol=1e-5, rtol=0)


def test_sample_random_is_seeded_and_consistent(served, g_ema):
  """sample_random: same seed -> same video; another seed -> another video; its video is G_ema(z, y) of
  its own z and y; video_uint8 = round((video + 1) * 127.5); y in [0, classes); serving_default is it."""
  _, out = served
  a = "a_"
  for key in ("video", "video_uint8", "z", "y"):
    np.testing.assert_array_equal(out["a_again_" + key], out[a + key])
    np.testing.assert_array_equal(out["default_" + key], out[a + key])
  assert not np.allclose(out[a + "z"], out["b_z"])
  assert not np.allclose(out[a + "video"], out["b_video"])
  assert out[a + "video"].shape == (3, 4, 16, 16, 3) and out[a + "z"].shape == (3, Z_DIM)
  assert out[a + "y"].dtype == np.int32 and out[a + "y"].min() >= 0 and out[a + "y"].max() < 8
  v = out[a + "video"]  # float32 math, as in the graph (round half to even in both)
  expected_uint8 = np.clip(np.round((v + np.float32(1.0)) * np.float32(127.5)), 0, 255)
  np.testing.assert_array_equal(out[a + "video_uint8"], expected_uint8.astype(np.uint8))
  np.testing.assert_allclose(
      out[a + "video"], g_ema(tf.constant(out[a + "z"]), tf.constant(out[a + "y"]), training=False).numpy(),
      atol=1e-5, rtol=0)


def test_tf1_session_loader_serves_the_same_videos(served):
  """The TF1 SavedModel loader (the path of TF Serving and `saved_model_cli run`) restores every variable
  and its sample_random equals the TF2-loaded one."""
  _, out = served
  np.testing.assert_allclose(out["tf1_video"], out["a_video"], atol=1e-5, rtol=0)


def test_truncation_scales_z(served):
  """Truncation t gives z = t * (the t = 1 draw): t = 0 -> all z zero, t = 0.44 -> 0.44 z."""
  _, out = served
  assert np.all(out["t0_z"] == 0.0) and np.any(out["a_z"] != 0.0)
  np.testing.assert_allclose(out["t44_z"], 0.44 * out["a_z"], rtol=1e-6)
  assert not np.allclose(out["t0_video"], out["a_video"])


def test_sample_random_labels_uses_given_classes(served):
  """sample_random_labels returns the given classes and the same z as sample_random for the seed."""
  _, out = served
  np.testing.assert_array_equal(out["labels_y"], [7, 0, 5])
  np.testing.assert_array_equal(out["labels_z"], out["a_z"])


def test_signatures_and_metadata(exported, served):
  """The export lists the documented signatures and an export_meta.json with step, config and class names,
  and the stale content of the overwritten folder is gone (no temporary folder left next to it)."""
  out_dir, meta = exported
  _, out = served
  assert set(out["signature_names"]) == {"sample", "sample_mixed", "latents", "sample_random",
                                        "sample_random_labels", "serving_default"}
  with open(os.path.join(out_dir, export_lib.META_FILE)) as f:
    on_disk = json.load(f)
  assert on_disk["step"] == meta["step"] == 2
  assert on_disk["num_classes"] == 8 and len(on_disk["class_names"]) == 8
  assert on_disk["config"]["resolution"] == 16
  assert on_disk["standing_stats"]["batches"] == 0  # off unless the config or the flag turns it on
  assert not os.path.exists(os.path.join(out_dir, "stale.txt"))
  assert os.listdir(os.path.dirname(out_dir)) == ["sampler"]


def test_negative_standing_stats_batches_is_a_one_line_error(run_dir, tmp_path, capsys):
  """--standing_stats_batches=-1: exit code 2, one line naming the flag, nothing written. (An export with
  standing statistics: tests/dvd_gan/test_legacy.py.)"""
  code = export_lib.main(["export", f"--workdir={run_dir}", f"--out={tmp_path / 'bad'}",
                          "--standing_stats_batches=-1"])
  err = capsys.readouterr().err.strip()
  assert code == 2 and len(err.splitlines()) == 1 and "--standing_stats_batches" in err
  assert not (tmp_path / "bad").exists()


def test_workdir_without_checkpoint_is_a_one_line_error(tmp_path, capsys):
  """A workdir without checkpoints: exit code 2, one line on stderr naming the checkpoints folder."""
  (tmp_path / "run").mkdir()
  code = export_lib.main(["export", f"--workdir={tmp_path / 'run'}", f"--out={tmp_path / 'out'}"])
  err = capsys.readouterr().err.strip()
  assert code == 2 and len(err.splitlines()) == 1 and "no checkpoint" in err and "checkpoints" in err
  assert not (tmp_path / "out").exists()


def test_non_empty_out_without_overwrite_is_a_one_line_error(run_dir, tmp_path, capsys):
  """--out exists and is non-empty: exit code 2, one line naming --overwrite, and the folder is untouched."""
  out = tmp_path / "out"
  out.mkdir()
  (out / "keep.txt").write_text("mine")
  code = export_lib.main(["export", f"--workdir={run_dir}", f"--out={out}"])
  err = capsys.readouterr().err.strip()
  assert code == 2 and len(err.splitlines()) == 1 and "--overwrite" in err
  assert os.listdir(out) == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"
  assert os.listdir(tmp_path) == ["out"]


def test_checkpoint_missing_g_ema_variables_is_refused(run_dir, tmp_path, capsys):
  """A checkpoint whose G_ema lacks some of the generator's variables (as Keras 3 model-object checkpoints
  lack listed sub-layers) is refused with a one-line error instead of exporting initial weights."""
  workdir = tmp_path / "partial"
  (workdir / "checkpoints").mkdir(parents=True)
  shutil.copy(os.path.join(run_dir, "config.json"), workdir / "config.json")
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")))
  suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
  names = sorted(n for n in reader.get_variable_to_shape_map() if n.startswith("G_ema/") and n.endswith(suffix))
  kept = {n[len("G_ema/"):-len(suffix)]: tf.Variable(reader.get_tensor(n)) for n in names[:len(names) // 2]}
  ckpt = tf.train.Checkpoint(G_ema=kept, step=tf.Variable(5, dtype=tf.int64))
  tf.train.CheckpointManager(ckpt, str(workdir / "checkpoints"), max_to_keep=1).save()
  code = export_lib.main(["export", f"--workdir={workdir}", f"--out={tmp_path / 'out'}"])
  err = capsys.readouterr().err.strip()
  assert code == 2 and len(err.splitlines()) == 1 and f"holds {len(kept)} G_ema variables" in err
  assert sorted(os.listdir(tmp_path)) == ["partial"]


def test_unconditional_model_signatures(tmp_path):
  """An unconditional generator (num_classes 0) exports `sample(z)` without y, equal to G_ema(z, None) to
  1e-5, and `sample_random` without a "y" output and no `sample_random_labels`."""
  config = tiny_config()
  config.train.conditional = False
  config.resolution, config.model.g_multipliers = 8, (4, 2)  # a smaller G than the run's: only signatures
  config.model.g_rnn_attention, config.model.g_separable_attention_blocks = False, ()
  workdir = tmp_path / "uncond"
  (workdir / "checkpoints").mkdir(parents=True)
  (workdir / "config.json").write_text(json.dumps(config.to_dict()))
  with build.fast_init("normal", stddev=0.3, seed=1):
    g = build.make_models(config)[0]
    g(tf.zeros([1, Z_DIM]), None, training=False)
  ckpt = tf.train.Checkpoint(G_ema=checkpointing.model_variables(g), step=tf.Variable(7, dtype=tf.int64))
  tf.train.CheckpointManager(ckpt, str(workdir / "checkpoints"), max_to_keep=1).save()
  meta = export_lib.export(str(workdir), str(tmp_path / "out"), log=lambda s: None)
  assert meta["num_classes"] == 0 and meta["class_names"] is None and meta["step"] == 7
  sigs = tf.saved_model.load(str(tmp_path / "out")).signatures
  assert set(sigs.keys()) == {"sample", "latents", "sample_random", "serving_default"}
  z = tf.random.stateless_normal([2, Z_DIM], [1, 2])
  np.testing.assert_allclose(sigs["sample"](z=z)["video"].numpy(), g(z, None, training=False).numpy(),
                             atol=1e-5, rtol=0)
  out = sigs["sample_random"](batch_size=tf.constant(2), seed=tf.constant(1, tf.int64),
                              truncation=tf.constant(1.0))
  assert set(out.keys()) == {"video", "video_uint8", "z"} and out["video"].shape == (2, 4, 8, 8, 3)
  latents = sigs["latents"](batch_size=tf.constant(2), seed=tf.constant(1, tf.int64), truncation=tf.constant(1.0),
                            truncation_mode=tf.constant("scale"))
  assert set(latents.keys()) == {"z"}
  np.testing.assert_array_equal(latents["z"].numpy(), out["z"].numpy())
