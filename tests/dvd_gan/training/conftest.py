"""Fixtures of the training tests: a config far smaller than experiments/tiny.py (4 frames of 16x16, ch 4).

The straight 4-step run of that config, `default_run`, is a session fixture of tests/straight_run.py (a plugin
that tests/conftest.py registers), shared with tests/test_reliability.py.
"""
import json
import os
import socket
import subprocess
import sys
import uuid

import pytest
import tensorflow as tf

from dvd_gan.config import base_config
from dvd_gan.models.build import build_models
from dvd_gan.training.loop import train


def make_tiny_config(**train_overrides):
  """4 frames 16x16, widths 4, batch 4, synthetic data, intervals of 2 steps, no FVD at the end."""
  c = base_config()
  c.seed = 3
  c.num_frames, c.resolution, c.num_classes, c.batch_size = 4, 16, 0, 4
  m = c.model
  m.z_dim, m.embed_dim = 8, 8
  m.g_ch, m.g_multipliers, m.g_blocks_per_stage = 4, (2, 2, 1), 1
  m.g_rnn_attention, m.g_separable_attention_blocks = False, ()
  m.d_ch, m.ds_multipliers, m.dt_multipliers = 4, (1, 2), (1, 2)
  m.dt_num_3d_blocks, m.ds_k = 1, 2
  c.data.name, c.data.stride = "synthetic", 1
  t = c.train
  t.num_steps, t.log_every, t.checkpoint_every, t.sample_every = 4, 2, 2, 2
  t.num_sample_videos, t.ema_start_step, t.ema_decay = 4, 3, 0.5
  t.deterministic = True
  for k, v in train_overrides.items():
    t[k] = v
  c.eval.fvd_at_end = False
  return c


@pytest.fixture(scope="session")
def tiny_config():
  """The factory `make_tiny_config(**train_overrides)`."""
  return make_tiny_config


class CheckpointReader:
  """Reads the variables of one model ("G", "DS", "DT", "G_ema") out of a checkpoint prefix."""

  def __init__(self, prefix):
    self.reader = tf.train.load_checkpoint(prefix)
    self.keys = sorted(self.reader.get_variable_to_shape_map())

  def model(self, name):
    """{key without the model prefix: value} of the model's variables (no optimizer slots)."""
    out = {}
    for k in self.keys:
      if k.startswith(name + "/") and "OPTIMIZER_SLOT" not in k and k.endswith("VARIABLE_VALUE"):
        out[k[len(name) + 1:]] = self.reader.get_tensor(k)
    return out


@pytest.fixture(scope="session")
def checkpoint_reader():
  return CheckpointReader


def run_recording_initial(config, workdir, **kwargs):
  """`loop.train(config, workdir, **kwargs)` that also returns the models' variables right after building:
  {"result": train's result, "initial": {"G"|"DS"|"DT": [numpy arrays of trainable variables]}}."""
  initial = {}

  def recording_build(cfg):
    models = build_models(cfg)
    if not initial:  # the first call builds the trained models (later ones: G_ema fallback, evaluation)
      for name, m in zip(("G", "DS", "DT"), models):
        initial[name] = [v.numpy().copy() for v in m.trainable_variables]
    return models

  result = train(config, str(workdir), build_models=recording_build, log=lambda s: None, **kwargs)
  return {"result": result, "initial": initial, "workdir": str(workdir)}


@pytest.fixture(scope="session")
def run_loop():
  """The function `run_recording_initial(config, workdir, **train_kwargs)`."""
  return run_recording_initial


@pytest.fixture(scope="session")
def ram_run(tmp_path_factory):
  """The tiny config trained on a non-local filesystem: workdir `ram://...` (which TensorFlow serves through
  tf.io.gfile like gs://), two steps per tf.function call (train.steps_per_loop=2); stopped after 2 steps
  (max_steps), then resumed in the same workdir to step 4. Runs with a fresh empty folder as the current
  directory, so that a file written with os / open to a relative "ram:/..." path would land there.

  Returns {"workdir", "cwd" (that folder), "first", "second" (train's results), "log" (second call's lines)}.
  """
  cwd = tmp_path_factory.mktemp("ram_run_cwd")
  workdir = f"ram://dvd_gan_tests_{uuid.uuid4().hex}/run"
  previous = os.getcwd()
  os.chdir(cwd)
  try:
    first = train(make_tiny_config(steps_per_loop=2), workdir, log=lambda s: None, max_steps=2)
    lines = []
    second = train(make_tiny_config(steps_per_loop=2), workdir, log=lines.append)
  finally:
    os.chdir(previous)
  return {"workdir": workdir, "cwd": str(cwd), "first": first, "second": second, "log": lines}


@pytest.fixture(scope="session")
def free_ports():
  """`free_ports(n)`: n TCP ports on 127.0.0.1 free right now (for local multi-worker clusters)."""
  def find(n):
    socks = [socket.socket() for _ in range(n)]
    try:
      for s in socks:
        s.bind(("127.0.0.1", 0))
      return [s.getsockname()[1] for s in socks]
    finally:
      for s in socks:
        s.close()
  return find


_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def start_workers(free_ports):
  """`start_workers(config_path, workdir, n=2)`: n processes of `python -m dvd_gan.train --config=config_path
  --workdir=workdir --strategy=multi_worker`, a local cluster on 127.0.0.1 (TF_CONFIG per process, worker 0
  the chief), stdout / stderr piped as text; the processes still running at the end of the test are killed."""
  started = []

  def start(config_path, workdir, n=2):
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(n)]}
    for i in range(n):
      env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
                 TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=_REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
      started.append(subprocess.Popen(
          [sys.executable, "-m", "dvd_gan.train", f"--config={config_path}", f"--workdir={workdir}",
           "--strategy=multi_worker"], cwd=_REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
          text=True))
    return started[-n:]
  yield start
  for p in started:
    if p.poll() is None:
      p.kill()
      p.wait()
