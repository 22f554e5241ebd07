"""benchmarks/spectral_norm_batching.py: every way it times computes what the layers' own power iterations
compute (kernels, weight gradients, the `u` a training call leaves, the network's output)."""
import collections
import contextlib

import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import experiments
from dvd_gan.layers import spectral_norm as sn
from dvd_gan.models.build import make_models


@pytest.fixture(scope="module")
def tiny_models():
  """The tiny config's G, DS and DT, built, with 4 classes (G: 48 spectrally normalised layers in 13 shapes)."""
  config = experiments.load("tiny")
  config.num_classes = 4
  g, ds, dt = make_models(config)
  z, y = tf.random.normal([2, int(config.model.z_dim)], seed=1), tf.constant([0, 3])
  video = g(z, y, training=False)
  ds(video, y, training=False)
  dt(video, y, training=False)
  return g, ds, dt, z, y


def test_every_way_gives_the_layers_kernels_and_weight_gradients(benchmark_script, tiny_models):
  """batched, compiled, flat, XLA, XLA buffer: each layer's W / sigma and the gradient of sum(kernel * r) w.r.t.
  every weight equal the layers' own on the same weights and u (float32 round-off)."""
  g, ds, dt, _, _ = tiny_models
  differences = benchmark_script("spectral_norm_batching")._largest_differences((g, ds, dt))
  assert set(differences) == {"batched", "compiled", "flat", "XLA", "XLA buffer"}
  for way, (kernels, gradients) in differences.items():
    assert kernels < 1e-6 and gradients < 1e-4, (way, kernels, gradients)


@pytest.mark.parametrize("way", ["batched", "compiled", "flat", "XLA", "XLA buffer"])
def test_a_training_call_under_each_way_leaves_the_layers_u_and_output(benchmark_script, tiny_models, way,
                                                                     monkeypatch):
  """G(z, y, training=True) with the way in place gives the per-layer call's video and leaves every layer's `u`
  where the per-layer call leaves it (one power iteration each); moving statistics restored between calls.
  Under the way no layer runs its own iteration, except (batched, G's call in its `spectral_norm.batched` scope as
  the step makes it) a layer alone in its shape."""
  g, _, _, z, y = tiny_models
  layers = [x for x in g._flatten_layers(include_self=False) if isinstance(x, sn._SpectralNormLayer)]
  shapes = collections.Counter((int(np.prod(x._sn_weight.shape[:-1])), int(x._sn_weight.shape[-1])) for x in layers)
  alone = sum(1 for n in shapes.values() if n == 1)
  start = [v.numpy() for v in g.non_trainable_weights]

  def call():
    for v, value in zip(g.non_trainable_weights, start):
      v.assign(value)
    out = g(z, y, training=True).numpy()
    return out, [v.numpy() for v in g.non_trainable_weights]

  reference, reference_state = call()
  own, shipped = [], sn._SpectralNormLayer._normalize
  monkeypatch.setattr(sn._SpectralNormLayer, "_normalize",
                      lambda self, update_u: own.append(1) or shipped(self, update_u))
  scope = sn.batched(layers) if way == "batched" else contextlib.nullcontext()
  with benchmark_script("spectral_norm_batching")._installed(way), scope:
    candidate, candidate_state = call()
  assert len(own) == (alone if way == "batched" else 0) and 0 < alone < len(layers)
  np.testing.assert_allclose(candidate, reference, rtol=1e-4, atol=1e-5)
  assert any(not np.array_equal(a, b) for a, b in zip(reference_state, start))  # u did move
  for a, b in zip(candidate_state, reference_state):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("scale", [1.0, 1e-6], ids=["sigma", "sigma-clipped"])
def test_the_compiled_gradient_equals_tensorflows_gradient_of_the_plain_ops(benchmark_script, scale):
  """The compiled way's written-out gradient of W / sigma equals TensorFlow's gradient of `power_iteration` and
  W / sigma, also when W is so small that sigma is clipped at sn_epsilon (then G / sn_epsilon, nothing through
  sigma); its kernel and u_new equal the plain ones."""
  rng = np.random.RandomState(0)
  w = tf.constant(rng.randn(3, 3, 4, 5).astype("float32") * scale)
  u = tf.constant(rng.randn(1, 5).astype("float32"))
  r = tf.constant(rng.randn(3, 3, 4, 5).astype("float32"))
  normalize = benchmark_script("spectral_norm_batching")._compiled_normalize(tf, sn)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(w)
    sigma, u_ref = sn.power_iteration(tf.reshape(w, [-1, 5]), u)
    reference = w / sigma
    kernel, u_new = normalize(w, u, 1e-4)
    loss_ref, loss = tf.reduce_sum(reference * r), tf.reduce_sum(kernel * r)
  assert (sigma.numpy() == np.float32(1e-4)) == (scale < 1.0)  # the clipped case is clipped, the other not
  np.testing.assert_allclose(kernel.numpy(), reference.numpy(), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(u_new.numpy(), u_ref.numpy(), rtol=1e-5, atol=1e-6)
  expected = tape.gradient(loss_ref, w).numpy()
  np.testing.assert_allclose(tape.gradient(loss, w).numpy(), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
