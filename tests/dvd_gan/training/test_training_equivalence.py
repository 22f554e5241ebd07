"""One training step on 2 replicas with global batch B equals one step on 1 replica with batch B.

Same initial weights (copied), same seed-generator state, same real data (replica r gets rows [r*b, (r+1)*b)
of the same global batches). The step's random numbers (z, y, DS frame indices) are drawn for the global batch
and sliced per replica, batch-norm moments are all-reduced, gradients are all-reduced: if any of these were
per-replica, the two runs would differ by O(1), far above the tolerance.

The optimisers are swapped for plain SGD (lr 0.1) in both trainers: Adam's first steps are nearly invariant
to the scale of the gradient (m / sqrt(v) ~ sign(g)), so with Adam a gradient summed instead of averaged over
replicas (a missing 1/n loss scaling) would go unnoticed; with SGD the update is lr * gradient itself.

Tolerance: the two runs reduce the same float32 numbers in a different order (per-replica partial sums, then
an all-reduce), which changes results by a few ulps (~1e-7 relative) per reduction; after the two D steps and
the G step (each update feeding the next) we allow |update_2 - update_1| <= 1e-4 * max|update_1| + 1e-6 per
variable, and losses within 1e-5 relative. Any real mistake is >= 10% of the update.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import data as data_lib
from dvd_gan.training.loop import resolve_config
from dvd_gan.training.trainer import build_trainer


def _sgd(trainer):
  with trainer.strategy.scope():
    trainer.g_opt = keras.optimizers.SGD(0.1)
    trainer.d_opt = keras.optimizers.SGD(0.1)
    trainer.g_opt.build(trainer.g_vars)
    trainer.d_opt.build(trainer.d_vars)


def _weights(trainer):
  return {name: [v.numpy().copy() for v in m.weights]
          for name, m in (("G", trainer.G), ("DS", trainer.DS), ("DT", trainer.DT), ("G_ema", trainer.G_ema))}


@pytest.fixture(scope="module")
def two_steps(tiny_config, mirrored_strategy):
  config = resolve_config(tiny_config())
  one = build_trainer(config, tf.distribute.get_strategy())
  two = build_trainer(config, mirrored_strategy())
  for src, dst in ((one.G, two.G), (one.DS, two.DS), (one.DT, two.DT), (one.G_ema, two.G_ema)):
    for a, b in zip(src.weights, dst.weights):
      b.assign(a)
  two.rng.reset(one.rng.state)
  _sgd(one)
  _sgd(two)
  before = _weights(one)
  # Two global batches (one per D step) of real videos and labels.
  cfg = config.copy_and_resolve_references()
  batches = list(data_lib.make_dataset(cfg, split="train", training=True).take(one.d_steps))
  stacked = {k: tf.stack([b[k] for b in batches]) for k in batches[0]}
  b = two.per_replica_batch
  # One input pipeline on one host: its consecutive elements go to replicas 0, 1, 0, 1, ... so the elements are
  # (batch 0, rows 0:b), (batch 0, rows b:2b), (batch 1, rows 0:b), ...
  chunks = {k: tf.reshape(v, [-1, b, *v.shape[2:]]) for k, v in stacked.items()}

  def per_replica(ctx):
    assert ctx.num_input_pipelines == 1
    return tf.data.Dataset.from_tensor_slices(chunks)

  m1 = one.train_step(iter(tf.data.Dataset.from_tensor_slices(stacked)))
  m2 = two.train_step(iter(two.strategy.distribute_datasets_from_function(per_replica)))
  return before, one, two, {k: float(v) for k, v in m1.items()}, {k: float(v) for k, v in m2.items()}


def test_two_replicas_equal_one_replica(two_steps):
  """After one G step (with its 2 D steps), every variable of G, DS, DT and G_ema on 2 replicas equals the
  1-replica result within the tolerance of the module docstring; the step changed the weights."""
  before, one, two, _, _ = two_steps
  after1, after2 = _weights(one), _weights(two)
  for name in ("G", "DS", "DT", "G_ema"):
    moved = 0
    for i, (w0, w1, w2) in enumerate(zip(before[name], after1[name], after2[name])):
      d1, d2 = w1 - w0, w2 - w0
      scale = float(np.max(np.abs(d1))) if d1.size else 0.0
      moved += scale > 0
      np.testing.assert_allclose(d2, d1, rtol=0, atol=1e-4 * scale + 1e-6,
                                 err_msg=f"{name} variable {i}")
    assert moved > 0, f"{name}: no variable changed"


def test_two_replicas_same_losses(two_steps):
  """The losses of the step (means over the global batch) agree within 1e-5 relative."""
  _, _, _, m1, m2 = two_steps
  assert set(m1) == set(m2)
  for k in m1:
    assert m2[k] == pytest.approx(m1[k], rel=1e-5, abs=1e-6), k


def test_replicas_hold_identical_copies(two_steps):
  """On 2 replicas every mirrored variable (weights, spectral-norm u, batch-norm moving statistics) holds the
  same value on both devices after the step."""
  _, _, two, _, _ = two_steps
  for m in (two.G, two.DS, two.DT, two.G_ema):
    for v in m.weights:
      values = getattr(getattr(v, "_value", v), "values", None)  # the per-device copies of a mirrored variable
      assert values is not None and len(values) == 2, v.name
      for copy in values[1:]:
        np.testing.assert_array_equal(copy.numpy(), values[0].numpy(), err_msg=v.name)
