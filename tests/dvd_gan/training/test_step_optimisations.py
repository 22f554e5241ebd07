"""Every speed/memory option of the training step leaves its results equal (within float tolerance).

Options: `train.fused_adam` (one fused kernel per variable update), `model.remat` (residual blocks recomputed
in the backward pass). Two trainers start from the same weights, seed-generator state and real batches; one runs with every
optimisation off (Keras's Adam), the other with the option under test. After one training step (a D step and a G step) every
variable must agree: G, DS, DT and G_ema weights including the spectral-norm vectors `u` and the batch-norm
moving statistics, and the optimisers' moments and step counters.

Tolerance: the fused kernels round differently (a few ulps per op); we allow |a - b| <= 1e-5 + 1e-4 |a|. The
absolute part covers weights whose exact gradient is 0 (a conv bias followed by batch norm): their gradient is
rounding noise (~1e-10) that differs between two graphs, and Adam turns it into updates of ~1e-6. A wrong
update (missing bias correction, a skipped u or moving-statistic update, a double update) is of order
lr = 1e-4 or more on nearly every entry and fails.
"""
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import data as data_lib
from dvd_gan.training.loop import resolve_config
from dvd_gan.training.trainer import build_trainer

# Bit-reproducible kernels (as a `train.deterministic` run uses): fewer sources of rounding noise.
tf.config.experimental.enable_op_determinism()

BASELINE = {"train.fused_adam": False, "model.remat": False}


def _state(trainer):
  out = {}
  for name, m in (("G", trainer.G), ("DS", trainer.DS), ("DT", trainer.DT), ("G_ema", trainer.G_ema)):
    for v in m.weights:
      out[f"{name}/{v.path}"] = v.numpy().copy()
  for name, opt in (("g_opt", trainer.g_opt), ("d_opt", trainer.d_opt)):
    for i, v in enumerate(opt.variables):
      out[f"{name}/{i}"] = np.asarray(v).copy()  # (paths carry the optimiser's unique name)
  return out


def _run_steps(config, overrides, strategy, batches, init=None):
  """(state after len(batches) D steps' worth of steps, last metrics, initial weights as numpy)."""
  c = config.copy_and_resolve_references()
  for key, v in overrides.items():  # "train.fused_adam", "model.remat"
    section, name = key.split(".")
    c[section][name] = v
  trainer = build_trainer(c, strategy)
  models = (trainer.G, trainer.DS, trainer.DT, trainer.G_ema)
  if init is not None:
    for m, values in zip(models, init):
      for var, value in zip(m.weights, values):
        var.assign(value)
  init = [[v.numpy().copy() for v in m.weights] for m in models]
  trainer.rng.reset(tf.random.Generator.from_seed(7).state)
  ds = tf.data.Dataset.from_tensor_slices({k: tf.stack([b[k] for b in batches]) for k in batches[0]})
  iterator = iter(strategy.experimental_distribute_dataset(ds))
  metrics = [trainer.train_step(iterator) for _ in range(len(batches) // trainer.d_steps)]
  return _state(trainer), {k: float(v) for k, v in metrics[-1].items()}, init


def _assert_equal_states(want, got):
  assert want.keys() == got.keys()
  moved = 0
  for key, a in want.items():
    b = got[key]
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5, err_msg=key)
    moved += int(key.endswith("/u") or "moving" in key)
  assert moved > 10  # the spectral-norm and batch-norm state really is compared


@pytest.fixture(scope="module")
def baseline(tiny_config):
  """(config, real batches, state after one step with every option off, its metrics, initial weights)."""
  config = resolve_config(tiny_config(d_steps_per_g_step=1))
  batches = list(data_lib.make_dataset(config, split="train", training=True).take(1))
  state, metrics, init = _run_steps(config, BASELINE, tf.distribute.get_strategy(), batches)
  return config, batches, state, metrics, init


def _check(baseline, option):
  config, batches, want, m_want, init = baseline
  got, m_got, _ = _run_steps(config, {**BASELINE, **option}, tf.distribute.get_strategy(), batches, init=init)
  _assert_equal_states(want, got)
  for k in m_want:
    assert abs(m_want[k] - m_got[k]) <= 1e-4 * (1 + abs(m_want[k])), k


@pytest.mark.slow
def test_fused_adam_keeps_every_variable_equal(baseline):
  _check(baseline, {"train.fused_adam": True})


@pytest.mark.slow
def test_remat_keeps_every_variable_equal(baseline):
  """Recomputed residual blocks of G, DS and DT: same gradients, and u / moving statistics updated once."""
  _check(baseline, {"model.remat": True})
