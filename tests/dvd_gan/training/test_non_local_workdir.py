"""A training run, its export and its evaluation entirely on a non-local filesystem.

`ram://` is TensorFlow's in-memory filesystem, served through the same tf.io.gfile layer as `gs://`: a path
that works there goes through gfile, and one opened with os / open would create a local folder named "ram:"
in the current directory instead. The run is conftest's `ram_run` (trained, stopped, resumed on ram://).
"""
import os

import numpy as np
import tensorflow as tf

from dvd_gan import export as export_lib
from dvd_gan.training import checkpointing
from eval import api, cli
from eval import io as eio
from eval import video_writer
from eval.stats import FeatureStats


class _MeanStdNetwork:
  """A feature network stand-in (eval.networks' interface): per-channel mean and std of the frames."""
  name = "i3d-kinetics-400"
  weights_sha256 = "0" * 64
  layers = ("logits", "avgpool")
  min_frames = 1
  frames = None

  def features(self, videos, layer):
    x = tf.cast(videos, tf.float32)
    return tf.concat([tf.reduce_mean(x, [1, 2, 3]), tf.math.reduce_std(x, [1, 2, 3])], axis=1)


def _no_scheme_folder(folder):
  return not [n for n in os.listdir(folder) if n.startswith("ram")]


def test_run_files_resume_export_and_eval_stay_on_the_filesystem(ram_run, tmp_path, monkeypatch):
  """On ram://: the run wrote config.json, checkpoints 2 and 4, TensorBoard events and PNG/GIF samples, and
  the second call resumed from step 2; export reads that workdir and publishes a SavedModel there (marked
  COMPLETE) which loads and samples; `eval stats` reads the sampled videos from ram:// and writes its .npz
  there, and the statistics read back equal the features of those videos. No local file or folder appears
  (the current directory stays empty; no "ram:" folder in the repository)."""
  workdir = ram_run["workdir"]
  root = eio.dirname(workdir)
  assert any("resumed from" in l and "at step 2" in l for l in ram_run["log"]), ram_run["log"]
  assert eio.read_json(eio.join(workdir, "config.json"))["train"]["steps_per_loop"] == 2
  assert tf.train.latest_checkpoint(checkpointing.checkpoint_dir(workdir)).endswith("ckpt-4")
  assert eio.glob(eio.join(workdir, "tensorboard", "events.out.tfevents.*"))
  for step in (2, 4):
    for ext in ("png", "gif"):
      assert len(eio.read_bytes(eio.join(workdir, "samples", f"samples_{step:07d}.{ext}"))) > 0

  monkeypatch.chdir(tmp_path)
  out = eio.join(root, "export")
  meta = export_lib.export(workdir, out, log=lambda s: None)
  assert meta["step"] == 4 and meta["workdir"] == workdir and meta["checkpoint"].startswith(workdir)
  assert eio.is_complete(out) and eio.read_json(eio.join(out, export_lib.META_FILE))["step"] == 4
  assert not [n for n in eio.listdir(root) if n.startswith(".tmp")]
  loaded = tf.saved_model.load(out)
  videos = loaded.signatures["sample_random"](batch_size=tf.constant(3), seed=tf.constant(1, tf.int64),
                                              truncation=tf.constant(1.0))["video_uint8"].numpy()
  assert videos.shape == (3, 4, 16, 16, 3)
  video_writer.write_videos_npy(eio.join(root, "videos", "fake.npy"), videos)

  monkeypatch.setattr(api, "get_feature_network", lambda network, weights=None: _MeanStdNetwork())
  stats_path = eio.join(root, "stats", "fake.npz")
  assert cli.main(["eval", "stats", f"--videos={eio.join(root, 'videos')}", f"--out={stats_path}",
                   "--noprogress"]) == 0
  stats = FeatureStats.load(stats_path)
  expected = _MeanStdNetwork().features(videos, "logits").numpy().astype(np.float64)
  assert stats.num_items == 3
  np.testing.assert_allclose(stats.mean, expected.mean(0), rtol=1e-5)
  np.testing.assert_allclose(stats.cov, np.cov(expected, rowvar=False), rtol=1e-4, atol=1e-6)

  assert os.listdir(tmp_path) == [] and os.listdir(ram_run["cwd"]) == []
  assert _no_scheme_folder(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
