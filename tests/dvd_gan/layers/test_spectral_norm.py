"""Reparametrised spectral normalisation (docs/paper.md, "Spectral normalisation"): sigma, u updates, gradients,
replicas."""
import contextlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.layers import SNConv2D, SNConv3D, SNDense, SNEmbedding, power_iteration, spectral_norm



def _gaussian(seed):
  return keras.initializers.RandomNormal(stddev=1.0, seed=seed)


def _cases():
  """(layer with a non-orthogonal kernel so sigma starts far from 1, a tiny input)."""
  rng = np.random.RandomState(0)
  return [
      (SNDense(5, kernel_initializer=_gaussian(1)), rng.randn(2, 7).astype("float32")),
      (SNConv2D(4, 3, kernel_initializer=_gaussian(2)), rng.randn(2, 5, 5, 3).astype("float32")),
      (SNConv3D(4, 3, kernel_initializer=_gaussian(3)), rng.randn(1, 3, 4, 4, 2).astype("float32")),
      (SNEmbedding(10, 6, kernel_initializer=_gaussian(4)), np.array([0, 3, 9], dtype="int32")),
  ]


def _top_singular_value(kernel):
  kernel = np.asarray(kernel)
  return np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]


def _raw(layer):
  return np.asarray(layer.weights[0].numpy())  # the kernel / embeddings variable is created first


@pytest.mark.parametrize("index", range(4), ids=["dense", "conv2d", "conv3d", "embedding"])
def test_power_iteration_converges_to_unit_spectral_norm_and_kernel_stays_raw(index):
  """After repeated training calls the normalised kernel (reshaped [-1, out]) has top singular value 1
  (numpy SVD, 1e-2), the forward pass uses that kernel, and the kernel variable still holds the raw W."""
  layer, x = _cases()[index]
  layer(x, training=False)
  raw = _raw(layer).copy()
  assert _top_singular_value(raw) > 1.5  # the test would be vacuous with sigma(W) = 1
  step = tf.function(lambda: layer(x, training=True))
  for _ in range(60):
    y = step()
  normalized = layer.normalized_kernel().numpy()
  assert abs(_top_singular_value(normalized) - 1.0) < 1e-2
  np.testing.assert_array_equal(_raw(layer), raw)  # W never overwritten by W / sigma
  np.testing.assert_allclose(normalized, raw / _top_singular_value(raw), rtol=2e-2, atol=2e-2)
  # The forward pass really uses W / sigma.
  if isinstance(layer, SNEmbedding):
    expected = normalized[x]
  else:
    expected = layer.apply_kernel(tf.constant(x), tf.constant(normalized)).numpy()
  np.testing.assert_allclose(layer(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-5)
  assert y.shape == expected.shape


def test_u_is_updated_only_in_training_calls():
  """`u` is unchanged by training=False / training=None calls and changes after a training=True call."""
  layer, x = _cases()[1]
  layer(x)
  u0 = layer.u.numpy().copy()
  layer(x, training=False)
  layer(x)
  layer.normalized_kernel()
  np.testing.assert_array_equal(layer.u.numpy(), u0)
  layer(x, training=True)
  assert np.abs(layer.u.numpy() - u0).max() > 1e-3


def test_gradient_flows_through_sigma():
  """d loss / dW equals the reparametrised formula G/sigma - <G, W>/sigma^2 v^T u (u, v held constant),
  which differs from the stop-gradient-sigma gradient G/sigma."""
  rng = np.random.RandomState(0)
  x = rng.randn(3, 6).astype("float32")
  r = rng.randn(3, 4).astype("float32")
  layer = SNDense(4, use_bias=False, kernel_initializer=_gaussian(5))
  layer(x)
  w = _raw(layer).astype("float64")
  u = layer.u.numpy().astype("float64")
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(x, training=False) * r)
  grad = tape.gradient(loss, layer.kernel).numpy()
  # One power iteration, in numpy.
  v = u @ w.T
  v /= np.linalg.norm(v)
  u1 = v @ w
  u1 /= np.linalg.norm(u1)
  sigma = (v @ w @ u1.T).item()
  g = x.astype("float64").T @ r  # dL/d(W_normalised)
  expected = g / sigma - np.sum(g * w) / sigma**2 * (v.T @ u1)
  np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-5)
  assert np.abs(grad - g / sigma).max() > 1e-2  # not the stop-gradient(sigma) gradient


def test_u_is_identical_on_replicas_and_matches_single_device(two_replicas):
  """Under a 2-replica MirroredStrategy a training call updates `u` identically on both replicas, to the
  same value as one power iteration on a single device."""
  rng = np.random.RandomState(0)
  x = rng.randn(4, 5, 5, 3).astype("float32")
  strategy = two_replicas.strategy
  with strategy.scope():
    layer = SNConv2D(4, 3, kernel_initializer=_gaussian(6))
    layer.build((None, 5, 5, 3))
  reference = SNConv2D(4, 3)
  reference.build((None, 5, 5, 3))
  reference.set_weights(layer.get_weights())
  dist_x = two_replicas.split(x)

  @tf.function
  def step(inputs):
    return strategy.run(lambda t: layer(t, training=True), args=(inputs,))

  out = step(dist_x)
  y_ref = reference(x, training=True).numpy()
  u_values = [v.numpy() for v in layer.u.value.values]
  assert len(u_values) == 2
  np.testing.assert_array_equal(u_values[0], u_values[1])
  np.testing.assert_allclose(u_values[0], reference.u.numpy(), rtol=1e-6, atol=1e-6)
  y = np.concatenate([t.numpy() for t in strategy.experimental_local_results(out)])
  np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)


def test_embedding_rejects_float_ids():
  """Bad input (float class ids) gives a one-line ValueError naming the problem."""
  with pytest.raises(ValueError, match="integer class ids"):
    SNEmbedding(4, 3)(np.zeros((2,), "float32"))


def test_mixed_precision_output_dtype_and_float32_state():
  """Under mixed_bfloat16 the output is bfloat16 while W and u stay float32 and u's update equals the
  float32 layer's (the power iteration runs in float32)."""
  layer, x = _cases()[1]
  mixed = SNConv2D(4, 3, dtype="mixed_bfloat16")
  layer.build(x.shape)
  mixed.build(x.shape)
  mixed.set_weights(layer.get_weights())
  y_ref = layer(x, training=True).numpy()
  y = mixed(x, training=True)
  assert y.dtype == tf.bfloat16
  assert mixed.kernel.dtype == "float32" and mixed.u.dtype == "float32"
  np.testing.assert_allclose(mixed.u.numpy(), layer.u.numpy(), rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(tf.cast(y, tf.float32).numpy(), y_ref, rtol=5e-2, atol=5e-2)


def test_wrong_input_channels_is_a_clear_error():
  """Calling a built SN conv on another channel count raises a one-line ValueError naming the axis."""
  layer = SNConv2D(4, 3)
  layer(np.zeros((1, 4, 4, 3), "float32"))
  with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
    layer(np.zeros((1, 4, 4, 5), "float32"))


def test_power_iteration_equals_the_textbook_formula_and_its_gradient():
  """`power_iteration` computes v W once and reads sigma off it; the result and the gradient w.r.t. W equal the
  textbook three-product form v = n(u W^T), u' = n(v W), sigma = v W u'^T (v, u' without gradient)."""
  rng = np.random.RandomState(5)
  w = tf.constant(rng.randn(12, 5).astype("float32"))
  u = tf.constant(rng.randn(1, 5).astype("float32"))

  def textbook(w):
    v = tf.stop_gradient(tf.math.l2_normalize(tf.matmul(u, w, transpose_b=True), epsilon=1e-12))
    u_new = tf.stop_gradient(tf.math.l2_normalize(tf.matmul(v, w), epsilon=1e-12))
    return tf.squeeze(tf.matmul(tf.matmul(v, w), u_new, transpose_b=True)), u_new

  with tf.GradientTape(persistent=True) as tape:
    tape.watch(w)
    sigma, u_new = power_iteration(w, u)
    sigma_ref, u_ref = textbook(w)
  np.testing.assert_allclose(sigma.numpy(), sigma_ref.numpy(), rtol=1e-6)
  np.testing.assert_allclose(u_new.numpy(), u_ref.numpy(), rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(tape.gradient(sigma, w).numpy(), tape.gradient(sigma_ref, w).numpy(),
                             rtol=1e-6, atol=1e-7)


def test_more_power_iterations_equal_repeated_single_iterations_and_their_gradient():
  """`power_iteration(..., iterations=3)` (one matrix and a stack) equals two iterations that only refine u, then
  one: the same sigma, u_new, and gradient w.r.t. W (through the last iteration's sigma only)."""
  rng = np.random.RandomState(6)
  for w_shape, u_shape in (((12, 5), (1, 5)), ((3, 12, 5), (3, 1, 5))):
    w = tf.constant(rng.randn(*w_shape).astype("float32"))
    u = tf.constant(rng.randn(*u_shape).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
      tape.watch(w)
      sigma, u_new = power_iteration(w, u, iterations=3)
      u_ref = power_iteration(w, power_iteration(w, u)[1])[1]
      sigma_ref, u_new_ref = power_iteration(w, u_ref)
    np.testing.assert_allclose(sigma.numpy(), sigma_ref.numpy(), rtol=1e-6)
    np.testing.assert_allclose(u_new.numpy(), u_new_ref.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tape.gradient(sigma, w).numpy(), tape.gradient(sigma_ref, w).numpy(),
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(sigma.numpy(), power_iteration(w, u)[0].numpy(), rtol=1e-3)  # the iterations count


def _model_of_shared_shapes():
  """Layers with weights of equal [n, m] (two of the same shape, one reshaping to the same [n, m]) and one alone."""
  layers = [SNConv2D(4, 3, kernel_initializer=_gaussian(10 + i), name=f"conv{i}") for i in range(2)]
  layers += [SNDense(4, kernel_initializer=_gaussian(12), name="dense27"),     # [27, 4], the convs' [n, m]
             SNDense(3, kernel_initializer=_gaussian(13), name="alone")]
  layers[0].build((None, 5, 5, 3))
  layers[1].build((None, 5, 5, 3))
  layers[2].build((None, 27))
  layers[3].build((None, 4))
  for i, layer in enumerate(layers):
    layer.u.assign(np.random.RandomState(20 + i).randn(1, layer.u.shape[-1]).astype("float32"))
  return layers


def _kernels_and_gradients(layers, scope):
  """Each layer's training-call kernel, the gradient of sum(kernel * r) (r fixed per layer) w.r.t. its raw weight,
  and its u afterwards."""
  us = [layer.u.numpy().copy() for layer in layers]
  rng = np.random.RandomState(30)
  with tf.GradientTape() as tape:
    with scope(layers):
      kernels = [layer.spectral_kernel(training=True) for layer in layers]
    loss = tf.add_n([tf.reduce_sum(k * rng.randn(*k.shape).astype("float32")) for k in kernels])
  grads = tape.gradient(loss, [layer._sn_weight for layer in layers])
  after = [layer.u.numpy().copy() for layer in layers]
  for layer, u in zip(layers, us):
    layer.u.assign(u)
  return [k.numpy() for k in kernels], [g.numpy() for g in grads], after


def test_batched_power_iterations_equal_each_layers_own():
  """`spectral_norm.batched`: same-[n, m] weights iterated as one batched product give every layer the kernel, the
  gradient w.r.t. its raw weight and the u update of its own iteration, whether its shape is shared or not."""
  layers = _model_of_shared_shapes()
  want = _kernels_and_gradients(layers, lambda layers: contextlib.nullcontext())
  got = _kernels_and_gradients(layers, spectral_norm.batched)
  for w, g in zip(want, got):
    for a, b in zip(w, g):
      np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
  assert not np.allclose(want[2][0], _raw_u_after_two_iterations(layers[0]))  # a second update would show


def test_batched_scope_with_two_iterations_equals_refining_each_u_first():
  """`spectral_norm.batched(layers, iterations=2)`: every layer, its shape shared or alone, gets the kernel, the
  gradient and the u update of its own training call made after its u was refined by one power iteration; an
  inference call in the scope still makes one iteration and updates nothing."""
  layers = _model_of_shared_shapes()
  us = [layer.u.numpy().copy() for layer in layers]
  for layer in layers:
    w = tf.convert_to_tensor(layer._sn_weight.value)
    layer.u.assign(power_iteration(tf.reshape(w, [-1, w.shape[-1]]), layer.u)[1])
  want = _kernels_and_gradients(layers, lambda layers: contextlib.nullcontext())
  for layer, u in zip(layers, us):
    layer.u.assign(u)
  got = _kernels_and_gradients(layers, lambda layers: spectral_norm.batched(layers, iterations=2))
  for w, g in zip(want, got):
    for a, b in zip(w, g):
      np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
  one = _kernels_and_gradients(layers, spectral_norm.batched)
  assert not np.allclose(one[2][3], got[2][3], rtol=1e-3)  # the layer alone in its shape iterates twice too
  inference = layers[0].normalized_kernel().numpy()
  with spectral_norm.batched(layers, iterations=2):
    np.testing.assert_array_equal(layers[0].spectral_kernel(training=False).numpy(), inference)
    np.testing.assert_array_equal(layers[0].u.numpy(), us[0])
  with pytest.raises(ValueError, match="power iterations per update must be >= 1, got 0"):
    with spectral_norm.batched(layers, iterations=0):
      pass


def _raw_u_after_two_iterations(layer):
  u = layer.u.numpy().copy()
  layer.spectral_kernel(training=True)
  layer.spectral_kernel(training=True)
  twice = layer.u.numpy().copy()
  layer.u.assign(u)
  return twice


def test_batched_scope_second_call_and_inference_call_run_their_own_iteration():
  """In a `batched` scope a layer's first training call takes the batched kernel; a second training call makes a
  second iteration (as outside the scope) and an inference call updates nothing."""
  layer = _model_of_shared_shapes()[0]
  u0 = layer.u.numpy().copy()
  layer.spectral_kernel(training=True)
  layer.spectral_kernel(training=True)
  want = layer.u.numpy().copy()
  layer.u.assign(u0)
  with spectral_norm.batched([layer]):
    layer.spectral_kernel(training=False)
    np.testing.assert_array_equal(layer.u.numpy(), u0)
    layer.spectral_kernel(training=True)
    layer.spectral_kernel(training=True)
  np.testing.assert_allclose(layer.u.numpy(), want, rtol=1e-6, atol=1e-7)
