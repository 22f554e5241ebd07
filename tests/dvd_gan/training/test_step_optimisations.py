"""Every speed/memory option of the training step leaves its results equal (within float tolerance).

Two trainers start from the same weights, seed-generator state and real batches; one runs with every
optimisation off (Keras's Adam), the other with the option under test. After one training step (a D step and a G step) every
variable must agree: G, DS, DT and G_ema weights including the spectral-norm vectors `u` and the batch-norm
moving statistics, and the optimisers' moments and step counters.

Tolerance: the fused kernels round differently (a few ulps per op); after two steps of Adam (whose first
update is ~lr * sign(g), so a rounding flip of a tiny gradient would move a weight by up to lr) we allow
|a - b| <= 1e-4 + 1e-4 |a| on weights. A wrong update (missing bias correction, a skipped u or moving-statistic
update, a double update) is of order lr = 1e-3 on nearly every entry and fails.
"""
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import data as data_lib
from dvd_gan.training.loop import resolve_config
from dvd_gan.training.trainer import build_trainer

BASELINE = {"fused_adam": False}


def _state(trainer):
  out = {}
  for name, m in (("G", trainer.G), ("DS", trainer.DS), ("DT", trainer.DT), ("G_ema", trainer.G_ema)):
    for v in m.weights:
      out[f"{name}/{v.path}"] = v.numpy().copy()
  for name, opt in (("g_opt", trainer.g_opt), ("d_opt", trainer.d_opt)):
    for i, v in enumerate(opt.variables):
      out[f"{name}/{i}"] = np.asarray(v).copy()  # (paths carry the optimiser's unique name)
  return out


def _run_steps(config, overrides, strategy, steps=1, init=None):
  c = config.copy_and_resolve_references()
  for k, v in overrides.items():
    c.train[k] = v
  trainer = build_trainer(c, strategy)
  if init is not None:
    for src, dst in zip(init, (trainer.G, trainer.DS, trainer.DT, trainer.G_ema)):
      for a, b in zip(src.weights, dst.weights):
        b.assign(a)
  else:
    init = (trainer.G, trainer.DS, trainer.DT, trainer.G_ema)
  trainer.rng.reset(tf.random.Generator.from_seed(7).state)
  ds = data_lib.make_dataset(c, split="train", training=True).take(steps * trainer.d_steps).cache().repeat()
  iterator = iter(strategy.experimental_distribute_dataset(ds))
  metrics = [trainer.train_step(iterator) for _ in range(steps)]
  return _state(trainer), {k: float(v) for k, v in metrics[-1].items()}, init


def _assert_equal_states(want, got):
  assert want.keys() == got.keys()
  moved = 0
  for key, a in want.items():
    b = got[key]
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4, err_msg=key)
    moved += int(key.endswith("/u") or "moving" in key)
  assert moved > 10  # the spectral-norm and batch-norm state really is compared


def _check(tiny_config, option, strategy):
  config = resolve_config(tiny_config(d_steps_per_g_step=1))
  want, m_want, init = _run_steps(config, BASELINE, strategy)
  got, m_got, _ = _run_steps(config, {**BASELINE, **option}, strategy, init=init)
  _assert_equal_states(want, got)
  for k in m_want:
    assert abs(m_want[k] - m_got[k]) <= 1e-4 * (1 + abs(m_want[k])), k


def test_fused_adam_keeps_every_variable_equal(tiny_config):
  _check(tiny_config, {"fused_adam": True}, tf.distribute.get_strategy())
