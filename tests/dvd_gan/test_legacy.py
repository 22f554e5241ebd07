"""Runs and files written before `model.g_block` existed (every G had BigGAN-deep blocks) still load, resume
and export with the generator they were trained with.

The fixtures in tests/dvd_gan/fixtures/legacy_biggan_deep/ were written by the code of commit 1b0b72f (see
make_fixtures.py there): a 2-step run (config.json without `g_block`, a full-state checkpoint), its G_ema as
a `.keras` file, a serialised BigGAN-deep block, and G_ema's outputs at step 2 and, after a resume to step
4, at step 4. The suite checks step 2 only: continuing the resumed run costs a ~20 s trace of the training
step; `video_step4` is there for the same check by hand (`legacy_config()` with num_steps = 4).
"""
import json
import os
import shutil
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import export as export_lib
from dvd_gan import layers as L
from dvd_gan.models.generator import Generator
from dvd_gan import standing_stats
from dvd_gan.training.loop import train
from tests.repo_files import load_module

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "legacy_biggan_deep")


def _fixture_module():
  return load_module(os.path.join(FIXTURES, "make_fixtures.py"), "legacy_make_fixtures")


@pytest.fixture(scope="module")
def reference():
  with np.load(os.path.join(FIXTURES, "reference.npz")) as f:
    return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def keras_g_ema():
  """The legacy `.keras` file loaded with `keras.models.load_model` (the run's G_ema at step 2)."""
  return keras.models.load_model(os.path.join(FIXTURES, "generator.keras"))


@pytest.fixture
def legacy_run(tmp_path):
  """A copy of the legacy run folder (the tests write into it)."""
  run = str(tmp_path / "run")
  shutil.copytree(os.path.join(FIXTURES, "run"), run)
  return run


def _assert_biggan_deep(generator):
  assert generator.block_kind == "biggan_deep"
  assert generator.blocks and all(type(b) is L.BigGANDeepGBlock for b in generator.blocks)


def test_stored_files_predate_the_block_key():
  """The fixtures are what they claim: neither the run's config.json nor the `.keras` file's G config
  names a block, and the serialised block carries the old registered name."""
  with open(os.path.join(FIXTURES, "run", "config.json")) as f:
    assert "g_block" not in json.load(f)["model"]
  with zipfile.ZipFile(os.path.join(FIXTURES, "generator.keras")) as z:
    assert "block" not in json.loads(z.read("config.json"))["config"]
  with open(os.path.join(FIXTURES, "gblock.json")) as f:
    assert json.load(f)["registered_name"] == "dvd_gan>GBlock"


def test_keras_file_loads_a_biggan_deep_generator_with_its_outputs(keras_g_ema, reference):
  """`keras.models.load_model` of the legacy `.keras` file gives a BigGAN-deep G whose inference output is
  the one the old code computed (1e-5)."""
  g = keras_g_ema
  assert isinstance(g, Generator)
  _assert_biggan_deep(g)
  video = g(tf.constant(reference["z"]), tf.constant(reference["y"]), training=False).numpy()
  np.testing.assert_allclose(video, reference["video_step2"], atol=1e-5, rtol=0)


def test_registered_gblock_name_still_means_the_biggan_deep_block():
  """A block serialised under "dvd_gan>GBlock" deserialises to the BigGAN-deep block with its config."""
  with open(os.path.join(FIXTURES, "gblock.json")) as f:
    stored = json.load(f)
  block = keras.saving.deserialize_keras_object(stored)
  assert type(block) is L.BigGANDeepGBlock
  assert block.channel_ratio == 4 and block.out_channels == 4 and not block.upsample


def test_legacy_run_exports_its_biggan_deep_g_ema(legacy_run, keras_g_ema, reference, tmp_path):
  """The export of the legacy run (config.json without g_block), with --standing_stats_batches=2, serves
  the run's BigGAN-deep G_ema with its standing statistics: equal (1e-5) to `standing_stats_generator` of
  the same G_ema loaded from the legacy `.keras` file (whose outputs are the old code's), so the export
  restored every variable of a BigGAN-deep G; export_meta.json records the settings."""
  z, y = tf.constant(reference["z"]), tf.constant(reference["y"])
  out = str(tmp_path / "sampler")
  assert export_lib.main(["export", f"--workdir={legacy_run}", f"--out={out}", "--standing_stats_batches=2"]) == 0
  with open(os.path.join(out, export_lib.META_FILE)) as f:
    meta = json.load(f)
  assert meta["step"] == 2 and "g_block" not in meta["config"]["model"]
  assert meta["standing_stats"] == {"batches": 2, "batch_size": 16, "seed": 5, "truncation": 1.0}
  video = tf.saved_model.load(out).signatures["sample"](z=z, y=y)["video"].numpy()
  expected = standing_stats.standing_stats_generator(keras_g_ema, 2, 16, 5)(z, y, training=False).numpy()
  np.testing.assert_allclose(video, expected, atol=1e-5, rtol=0)
  assert np.abs(video - reference["video_step2"]).max() > 1e-3


def test_legacy_run_resumes_with_today_s_experiment_config(legacy_run, reference):
  """Resuming the legacy run with its experiment config as today's code builds it (whose g_block is
  "biggan") keeps the run's BigGAN-deep G (the run's config.json predates the key, and a line says so),
  restores the whole training state (every object of the checkpoint matched; step and optimiser counters
  2) and gives G_ema's old outputs (1e-5); the rewritten config.json names the block."""
  config = _fixture_module().legacy_config()
  assert config.model.g_block == "biggan"
  lines = []
  result = train(config, legacy_run, log=lines.append)
  assert any("resumed from" in line and "at step 2" in line for line in lines), lines
  assert any("model.g_block='biggan_deep'" in line for line in lines), lines
  trainer = result["trainer"]
  assert result["step"] == 2 and int(trainer.step.numpy()) == 2
  assert int(trainer.g_opt.iterations.numpy()) == int(trainer.d_opt.iterations.numpy()) == 2
  for g in (trainer.G, trainer.G_ema):
    _assert_biggan_deep(g)
  video = trainer.G_ema(tf.constant(reference["z"]), tf.constant(reference["y"]), training=False).numpy()
  np.testing.assert_allclose(video, reference["video_step2"], atol=1e-5, rtol=0)
  with open(os.path.join(legacy_run, "config.json")) as f:
    assert json.load(f)["model"]["g_block"] == "biggan_deep"
