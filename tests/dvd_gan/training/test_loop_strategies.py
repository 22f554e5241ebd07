"""The real training loop (dvd_gan.training.loop.train) for a few steps on CPU under each strategy.

Every run uses the tiny config of conftest.py: 4 G steps, EMA from step 3 (decay 0.5), checkpoints, samples and
logs every 2 steps. Checks: finite losses, variables changed, G_ema == G before the EMA start step (checkpoint
of step 2) and G_ema != G after it, checkpoint / TensorBoard / sample files written (by the chief only).
"""
import glob
import json
import math
import os
import re
import time

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator

from dvd_gan.training import checkpointing

_HERE = os.path.dirname(os.path.abspath(__file__))


def _check_outputs(workdir, reader_cls):
  """Files of a finished 4-step run, and the EMA / variable-change properties read off its checkpoints."""
  ckpt = checkpointing.checkpoint_dir(workdir)
  assert tf.train.latest_checkpoint(ckpt).endswith("ckpt-4")
  assert os.path.exists(os.path.join(ckpt, "ckpt-2.index"))
  events = glob.glob(os.path.join(workdir, "tensorboard", "events.out.tfevents.*"))
  assert events and os.path.getsize(events[0]) > 0
  for step in (2, 4):
    for ext in ("png", "gif", "mp4"):
      path = os.path.join(workdir, "samples", f"samples_{step:07d}.{ext}")
      assert os.path.getsize(path) > 0, path
  assert not [f for f in os.listdir(os.path.join(workdir, "samples")) if f.startswith(".tmp")]
  at2, at4 = reader_cls(os.path.join(ckpt, "ckpt-2")), reader_cls(os.path.join(ckpt, "ckpt-4"))
  g2, e2, g4, e4 = at2.model("G"), at2.model("G_ema"), at4.model("G"), at4.model("G_ema")
  assert g2 and set(g2) == set(e2)
  # Before ema_start_step (3) G_ema is a copy of G: every variable (weights, u, BN moving statistics).
  for k in g2:
    np.testing.assert_array_equal(e2[k], g2[k], err_msg=k)
  # After it G_ema is an average: differs from G.
  assert any(not np.allclose(e4[k], g4[k]) for k in g4 if "kernel" in k)
  for name in ("G", "DS", "DT"):  # all three networks trained between steps 2 and 4
    a, b = at2.model(name), at4.model(name)
    assert any(not np.array_equal(a[k], b[k]) for k in a), name


def _check_in_process_run(run, reader_cls):
  r = run["result"]
  assert r["step"] == 4 and r["stopped_by"] is None
  assert r["last_metrics"] and all(math.isfinite(v) for v in r["last_metrics"].values()), r["last_metrics"]
  trainer = r["trainer"]
  for name, model in (("G", trainer.G), ("DS", trainer.DS), ("DT", trainer.DT)):
    changed = [not np.array_equal(a, v.numpy()) for a, v in zip(run["initial"][name], model.trainable_variables)]
    assert sum(changed) >= 0.9 * len(changed), f"{name}: only {sum(changed)}/{len(changed)} variables changed"
  assert any(not np.allclose(e.numpy(), g.numpy()) for e, g in zip(trainer.G_ema.trainable_variables,
                                                                    trainer.G.trainable_variables))
  _check_outputs(run["workdir"], reader_cls)


def test_default_strategy_run(default_run, checkpoint_reader):
  """Default strategy: losses finite, G/DS/DT variables change, EMA copies G before its start step and
  differs after it, checkpoints + TensorBoard + PNG/GIF samples are written."""
  _check_in_process_run(default_run, checkpoint_reader)
  with open(os.path.join(default_run["workdir"], "config.json")) as f:
    assert json.load(f)["num_classes"] == 8  # resolved from the synthetic dataset


def test_tensorboard_shows_losses_and_samples(default_run):
  """TensorBoard's own reader (EventAccumulator) finds the run's `losses/*` scalars (d_loss, g_loss, DS/DT on
  real and fake) at the logged steps and the EMA sample grid as an image, each under its plugin."""
  acc = EventAccumulator(os.path.join(default_run["workdir"], "tensorboard"))
  acc.Reload()
  scalars = set(acc.PluginTagToContent("scalars"))
  losses = sorted(t for t in scalars if t.startswith("losses/"))
  assert {"losses/d_loss", "losses/g_loss"} <= set(losses) and len(losses) >= 4, losses
  assert {"lr/g", "lr/d", "speed/steps_per_sec", "speed/examples_per_sec"} <= scalars
  for tag in losses:
    events = acc.Tensors(tag)
    assert [e.step for e in events] == [2, 4], tag
    assert all(math.isfinite(float(tf.make_ndarray(e.tensor_proto))) for e in events), tag
  assert "samples/ema_frame_grid" in acc.PluginTagToContent("images")
  grid = acc.Tensors("samples/ema_frame_grid")[-1]
  width, height, png = tf.make_ndarray(grid.tensor_proto)[:3]
  image = tf.io.decode_png(png).numpy()
  assert image.shape == (int(height), int(width), 3) and grid.step == 4


@pytest.mark.slow
def test_mirrored_strategy_run(tiny_config, run_loop, tmp_path, checkpoint_reader, mirrored_strategy):
  """MirroredStrategy over 2 logical CPUs: the same properties as the default run, with 2 replicas."""
  strategy = mirrored_strategy()
  run = run_loop(tiny_config(), tmp_path, strategy=strategy)
  assert run["result"]["trainer"].strategy.num_replicas_in_sync == 2
  _check_in_process_run(run, checkpoint_reader)


_WORKER_CONFIG = """
import sys
sys.path.insert(0, {here!r})
from conftest import make_tiny_config


def get_config():
  return make_tiny_config(log_every=1)
"""


@pytest.mark.slow
def test_multi_worker_strategy_run(tmp_path, checkpoint_reader, start_workers):
  """MultiWorkerMirroredStrategy, 2 worker processes on 127.0.0.1 (`python -m dvd_gan.train
  --strategy=multi_worker`, TF_CONFIG per process): both exit 0 with finite logged losses; the chief writes
  checkpoints, TensorBoard and samples with the EMA / variable-change properties; the other worker leaves
  no files behind."""
  config_path = tmp_path / "worker_config.py"
  config_path.write_text(_WORKER_CONFIG.format(here=_HERE))
  workdir = tmp_path / "run"
  deadline = time.time() + 420
  outputs = []
  for p in start_workers(config_path, workdir):
    out, err = p.communicate(timeout=max(deadline - time.time(), 1))
    outputs.append((p.returncode, out, err))
  for code, out, err in outputs:
    assert code == 0, err[-3000:]
  chief_log = outputs[0][1]
  losses = re.findall(r"d_loss (\S+)\s+g_loss (\S+)", chief_log)
  assert len(losses) == 4, chief_log
  assert all(math.isfinite(float(x)) for pair in losses for x in pair)
  assert "done: step 4" in chief_log
  _check_outputs(str(workdir), checkpoint_reader)
  assert sorted(os.listdir(workdir)) == ["checkpoints", "config.json", "samples", "tensorboard"]
