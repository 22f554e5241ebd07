"""benchmarks/bn_gradient.py: its reference side is the same mathematics as the shipped batch norm (its command
line: test_configs_threads.py)."""
import numpy as np
import tensorflow as tf

from dvd_gan.layers import BatchNorm, ClassConditionalBatchNorm


def _value_and_gradients(layer, x, cond, weights):
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = layer(x, cond, training=True) if cond is not None else layer(x, training=True)
    loss = tf.reduce_sum(y * weights)
  return [y] + tape.gradient(loss, [x] + layer.trainable_weights)


def test_the_automatic_side_computes_what_the_shipped_layers_compute(monkeypatch, benchmark_script):
  """With the benchmark's reference `normalize_affine` in place, a training call of BatchNorm (one scale for the
  batch) and of ClassConditionalBatchNorm (one per video) gives the shipped layers' outputs and gradients (input
  and every weight): the two sides it times differ in how the gradient is computed, not in what it is."""
  x = tf.random.normal([3, 4, 5, 5, 6], seed=1)
  cond = tf.random.normal([3, 5], seed=2)
  weights = tf.random.normal(x.shape, seed=3)
  reference, calls = benchmark_script("bn_gradient")._automatic_normalize_affine, []

  def counted(*args, **kwargs):
    calls.append(1)
    return reference(*args, **kwargs)

  for layer, c in ((BatchNorm(), None), (ClassConditionalBatchNorm(), cond)):
    layer(x, c, training=False) if c is not None else layer(x, training=False)  # builds
    for v in layer.trainable_weights:
      v.assign(tf.random.normal(v.shape, seed=4) * 0.3 + (1.0 if "scale" in v.name else 0.0))
    state = [v.numpy() for v in layer.non_trainable_weights]
    shipped = _value_and_gradients(layer, x, c, weights)
    for v, s in zip(layer.non_trainable_weights, state):  # the same u and moving statistics for both calls
      v.assign(s)
    with monkeypatch.context() as m:
      m.setattr(type(layer).__mro__[1], "normalize_affine", counted)
      automatic = _value_and_gradients(layer, x, c, weights)
    assert len(shipped) == len(automatic) > 2
    for got, want in zip(automatic, shipped):
      np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)
  assert len(calls) == 2  # the reference side really ran, once per layer

