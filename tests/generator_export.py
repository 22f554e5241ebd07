"""Session fixtures shared by test modules of different folders (a pytest plugin: tests/conftest.py registers
it): one tiny class-conditional generator's run folder and its export, made once per test process.

The run folder holds a 4-frame 16x16 generator with 8 synthetic classes and random weights (no training: its
checkpoint is written directly, as the training loop writes G_ema); the export has the default serving bounds.
"""
import json
import os

import pytest
import tensorflow as tf

from dvd_gan import export as export_lib
from dvd_gan.config import base_config
from dvd_gan.models import build
from dvd_gan.training import checkpointing

Z_DIM, T, RES, C = 8, 4, 16, 8


def tiny_generator_config():
  c = base_config()
  c.num_frames, c.resolution, c.num_classes, c.batch_size = T, RES, C, 4
  m = c.model
  m.z_dim, m.embed_dim = Z_DIM, 8
  m.g_ch, m.g_multipliers, m.g_blocks_per_stage = 4, (4, 2, 1), 1
  m.d_ch, m.ds_multipliers, m.dt_multipliers, m.ds_k, m.dt_num_3d_blocks = 4, (1, 2), (1, 2), 2, 1
  c.data.name, c.data.stride = "synthetic", 1
  return c


@pytest.fixture(scope="session")
def tiny_generator_run(tmp_path_factory):
  """(workdir, generator): a run folder whose checkpoint (step 5) holds the generator's weights as G_ema."""
  workdir = tmp_path_factory.mktemp("tiny_generator_run") / "run"
  (workdir / "checkpoints").mkdir(parents=True)
  config = tiny_generator_config()
  (workdir / "config.json").write_text(json.dumps(config.to_dict()))
  with build.fast_init("normal", stddev=0.3, seed=3):
    g = build.make_models(config)[0]
    g(tf.zeros([1, Z_DIM]), tf.zeros([1], tf.int32), training=False)
  ckpt = tf.train.Checkpoint(G_ema=checkpointing.model_variables(g), step=tf.Variable(5, dtype=tf.int64))
  tf.train.CheckpointManager(ckpt, str(workdir / "checkpoints"), max_to_keep=1).save()
  return str(workdir), g


@pytest.fixture(scope="session")
def tiny_generator_export(tiny_generator_run, tmp_path_factory):
  """The run exported (default bounds) to a folder whose parent does not exist yet (the README's
  `--out=exports/demo` in a fresh clone): the export creates it."""
  out = str(tmp_path_factory.mktemp("tiny_generator_export") / "exports" / "export")
  export_lib.export(tiny_generator_run[0], out, log=lambda s: None)
  assert os.path.isfile(os.path.join(out, "saved_model.pb"))
  return out
