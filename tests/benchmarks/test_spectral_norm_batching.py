"""benchmarks/spectral_norm_batching.py: every way it times computes what `power_iteration` in plain ops computes
(kernels, weight gradients, the `u` a training call leaves, the network's output)."""
import collections

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
  """compiled (shipped), flat, XLA, grouped, XLA buffer: each layer's W / sigma and the gradient of
  sum(kernel * r) w.r.t. every weight equal the plain ops' on the same weights and u (float32 round-off)."""
  g, ds, dt, _, _ = tiny_models
  differences = benchmark_script("spectral_norm_batching")._largest_differences((g, ds, dt))
  assert set(differences) == {"compiled", "flat", "XLA", "grouped", "XLA buffer"}
  for way, (kernels, gradients) in differences.items():
    assert kernels < 1e-6 and gradients < 1e-4, (way, kernels, gradients)


@pytest.mark.parametrize("way", ["plain", "flat", "XLA", "grouped", "XLA buffer"])
def test_a_training_call_under_each_way_leaves_the_layers_u_and_output(benchmark_script, tiny_models, way,
                                                                     monkeypatch):
  """G(z, y, training=True) with the way in place gives the shipped call's video and leaves every layer's `u`
  where the shipped call leaves it (one power iteration each); moving statistics restored between calls.
  Under the way no layer runs its shipped normalisation, except (grouped) a layer alone in its shape."""
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
  with benchmark_script("spectral_norm_batching")._installed(way):
    candidate, candidate_state = call()
  assert len(own) == (alone if way == "grouped" else 0) and 0 < alone < len(layers)
  np.testing.assert_allclose(candidate, reference, rtol=1e-4, atol=1e-5)
  assert any(not np.array_equal(a, b) for a, b in zip(reference_state, start))  # u did move
  for a, b in zip(candidate_state, reference_state):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
