"""Resume, SIGTERM and the NaN guard of the training loop (dvd_gan.training.loop.train).

The reference is the session's straight 4-step run of the tiny config (conftest `default_run`, with
train.deterministic=True: seeded initial weights and TensorFlow op determinism). Resumed runs must end with
BIT-EXACT the same variables (tolerance 0): the checkpoint holds every variable, both optimisers, the step and
the seed generator's state, and the input pipeline (deterministic, seeded) skips the batches already used.
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import data as data_lib
from dvd_gan.models.build import build_models
from dvd_gan.training import checkpointing
from dvd_gan.training.loop import NonFiniteLossError, train

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
_HERE = os.path.dirname(os.path.abspath(__file__))


def _assert_same_state(trainer, reference):
  for name in ("G", "DS", "DT", "G_ema"):
    a, b = getattr(trainer, name).weights, getattr(reference, name).weights
    assert len(a) == len(b)
    for v, w in zip(a, b):
      np.testing.assert_array_equal(v.numpy(), w.numpy(), err_msg=f"{name}: {v.name}")
  for opt in ("g_opt", "d_opt"):
    a, b = getattr(trainer, opt), getattr(reference, opt)
    assert int(a.iterations.numpy()) == int(b.iterations.numpy())
    for v, w in zip(a.variables, b.variables):
      np.testing.assert_array_equal(v.numpy(), w.numpy(), err_msg=f"{opt}: {v.name}")
  np.testing.assert_array_equal(trainer.rng.state.numpy(), reference.rng.state.numpy())
  assert int(trainer.step.numpy()) == int(reference.step.numpy()) == 4


def test_resume_after_stop_is_bit_exact(tiny_config, default_run, tmp_path):
  """4 steps straight == 2 steps, stop (train(max_steps=2)), rerun in the same workdir for 2 more: identical
  G, DS, DT, G_ema, optimiser states and seed-generator state (bit-exact)."""
  first = train(tiny_config(), str(tmp_path), log=lambda s: None, max_steps=2)
  assert first["stopped_by"] == "max_steps" and first["step"] == 2
  assert tf.train.latest_checkpoint(checkpointing.checkpoint_dir(str(tmp_path))).endswith("ckpt-2")
  lines = []
  second = train(tiny_config(), str(tmp_path), log=lines.append)
  assert second["step"] == 4 and any("resumed from" in l and "at step 2" in l for l in lines), lines
  _assert_same_state(second["trainer"], default_run["result"]["trainer"])


_CONFIG_FILE = """
import sys
sys.path.insert(0, {here!r})
from conftest import make_tiny_config


def get_config():
  return make_tiny_config(log_every=1)
"""


def test_sigterm_saves_exits_zero_and_resumes(tiny_config, default_run, tmp_path):
  """A `python -m dvd_gan.train` run that receives SIGTERM (after its first step) finishes its current step,
  saves a checkpoint of that step and exits 0; rerunning in the same workdir resumes from it and reaches the
  straight run's state bit-exactly."""
  config_path = tmp_path / "config.py"
  config_path.write_text(_CONFIG_FILE.format(here=_HERE))
  workdir = tmp_path / "run"
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=_REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
  proc = subprocess.Popen([sys.executable, "-m", "dvd_gan.train", f"--config={config_path}",
                           f"--workdir={workdir}"], cwd=_REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  try:
    deadline = time.time() + 300
    seen = []
    for line in proc.stdout:  # log_every=1: a line after every step; signal after the first one
      seen.append(line)
      if line.startswith("step 1/"):
        proc.send_signal(signal.SIGTERM)
        break
      assert time.time() < deadline, seen
    out, err = proc.communicate(timeout=max(deadline - time.time(), 1))
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  out = "".join(seen) + out
  assert proc.returncode == 0, err[-3000:]
  assert "received signal 15" in out, out
  latest = tf.train.latest_checkpoint(checkpointing.checkpoint_dir(str(workdir)))
  stopped_at = int(latest.rsplit("-", 1)[1])
  assert 1 <= stopped_at < 4, out
  assert f"saving at step {stopped_at}" in out
  lines = []
  resumed = train(tiny_config(), str(workdir), log=lines.append)
  assert any(f"at step {stopped_at}" in l for l in lines), lines
  _assert_same_state(resumed["trainer"], default_run["result"]["trainer"])


def test_signal_during_start_up_exits_cleanly_without_saving(tiny_config, tmp_path):
  """SIGTERM while train() is still building its models (before the first step) is handled, not fatal:
  train returns stopped_by=SIGTERM at step 0 with a message, and writes no checkpoint (nothing new to save)."""

  def build_and_signal(cfg):
    handler = signal.getsignal(signal.SIGTERM)
    assert callable(handler), f"no SIGTERM handler installed while train() starts up: {handler!r}"
    signal.raise_signal(signal.SIGTERM)  # handled at once, in this (the main) thread
    return build_models(cfg)

  before = signal.getsignal(signal.SIGTERM)
  lines = []
  result = train(tiny_config(), str(tmp_path), build_models=build_and_signal, log=lines.append)
  assert result["stopped_by"] == signal.SIGTERM and result["step"] == 0, result
  assert any("received signal 15 before the first step" in l for l in lines), lines
  assert tf.train.latest_checkpoint(checkpointing.checkpoint_dir(str(tmp_path))) is None
  assert signal.getsignal(signal.SIGTERM) == before  # the previous handler is back


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_config, tmp_path):
  """With two steps per call (steps_per_loop=2), real videos that turn NaN at step 4 (batches 6 and 7: the
  second step of the call running steps 3-4) stop the run with NonFiniteLossError naming step 4 and the last
  good checkpoint (step 2), which is still the latest one and holds finite weights; nothing of steps 3 or 4
  was saved."""
  def nan_dataset(cfg, ctx, skip):
    ds = data_lib.make_dataset(cfg, split="train", training=True, input_context=ctx).skip(skip)
    return ds.enumerate().map(
        lambda i, b: {**b, "video": tf.where(i + skip >= 6, float("nan"), b["video"])})

  with pytest.raises(NonFiniteLossError, match=r"non-finite loss at step 4: .*ckpt-2"):
    train(tiny_config(deterministic=False, steps_per_loop=2), str(tmp_path), dataset_fn=nan_dataset,
          log=lambda s: None)
  ckpt_dir = checkpointing.checkpoint_dir(str(tmp_path))
  latest = tf.train.latest_checkpoint(ckpt_dir)
  assert latest.endswith("ckpt-2")
  assert not [f for f in os.listdir(ckpt_dir) if f.startswith(("ckpt-3", "ckpt-4"))]
  reader = tf.train.load_checkpoint(latest)
  names = [k for k in reader.get_variable_to_shape_map() if k.startswith(("G/", "DS/", "DT/", "G_ema/"))]
  assert names
  for k in names:
    assert np.all(np.isfinite(reader.get_tensor(k))), k
