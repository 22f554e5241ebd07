"""Conditional batch norm: per-time-step statistics, scale = 1 + f(c), moving stats, cross-replica moments."""
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.layers import BatchNorm, ClassConditionalBatchNorm
from dvd_gan.layers.batch_norm import _grouped, _sum_b_hw, batch_normalize, moments


EPS = 1e-5


def _data(b=4, t=3, seed=0):
  rng = np.random.RandomState(seed)
  x = (rng.randn(b, t, 3, 3, 2) * 2.0 + 1.0).astype("float32")
  cond = rng.randn(b, 5).astype("float32")
  return x, cond


def _x_hat(x):
  """numpy reference: per-time-step moments over B, H, W."""
  mean = x.mean(axis=(0, 2, 3), keepdims=True)
  var = x.var(axis=(0, 2, 3), keepdims=True)
  return (x - mean) / np.sqrt(var + EPS)


def test_statistics_are_per_time_step():
  """Pitfall (docs/paper.md): batch-norm statistics pooled over batch and time together. In training mode,
  changing frame t of the input changes no other frame's output (a BN pooling statistics over time would
  change every frame)."""
  x, cond = _data()
  layer = ClassConditionalBatchNorm(epsilon=EPS)
  y = layer(x, cond, training=True).numpy()
  x2 = x.copy()
  x2[0, 1] += np.random.RandomState(1).randn(*x2[0, 1].shape).astype("float32") * 3.0
  y2 = layer(x2, cond, training=True).numpy()
  np.testing.assert_allclose(y2[:, [0, 2]], y[:, [0, 2]], rtol=1e-6, atol=1e-6)
  assert np.abs(y2[:, 1] - y[:, 1]).max() > 1e-2


def test_condition_of_a_video_only_affects_that_video():
  """Pitfall (docs/paper.md): conditioning vectors repeated in the wrong order when time is folded into the
  batch. cond [B, D] is broadcast per video: changing video 2's cond changes only video 2's output (all its
  frames), no other video's."""
  x, cond = _data()
  layer = ClassConditionalBatchNorm(epsilon=EPS)
  y = layer(x, cond, training=True).numpy()
  cond2 = cond.copy()
  cond2[2] += 1.0
  y2 = layer(x, cond2, training=True).numpy()
  np.testing.assert_allclose(y2[[0, 1, 3]], y[[0, 1, 3]], rtol=1e-6, atol=1e-6)
  assert np.abs(y2[2] - y[2]).max() > 1e-2


def test_scale_is_one_plus_linear_of_cond():
  """Pitfall (docs/paper.md): conditional-BN scale initialised near 0. Scale is 1 + f(c), not f(c): with
  cond = 0 (bias-free gamma/beta, non-zero kernels) the output is x_hat, and with the gamma/beta kernels at zero
  the layer is plain per-step batch norm for any cond."""
  x, cond = _data()
  layer = ClassConditionalBatchNorm(epsilon=EPS)
  x_hat = _x_hat(x)
  y0 = layer(x, np.zeros_like(cond), training=True).numpy()
  np.testing.assert_allclose(y0, x_hat, rtol=1e-4, atol=1e-4)
  assert np.abs(layer.gamma.kernel.numpy()).max() > 0.1
  layer.gamma.kernel.assign(np.zeros(layer.gamma.kernel.shape, "float32"))
  layer.beta.kernel.assign(np.zeros(layer.beta.kernel.shape, "float32"))
  np.testing.assert_allclose(layer(x, cond, training=True).numpy(), x_hat, rtol=1e-4, atol=1e-4)


def test_affine_matches_formula():
  """With non-zero gamma/beta kernels, out = x_hat * (1 + c Wg/sigma_g) + c Wb/sigma_b (numpy)."""
  x, cond = _data()
  layer = ClassConditionalBatchNorm(epsilon=EPS)
  y = layer(x, cond, training=True).numpy()
  # Orthogonal init: every singular value is 1, so sigma does not depend on the u the call used.
  wg = layer.gamma.normalized_kernel().numpy()
  wb = layer.beta.normalized_kernel().numpy()
  expected = _x_hat(x) * (1 + cond @ wg)[:, None, None, None, :] + (cond @ wb)[:, None, None, None, :]
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
  assert np.abs(y - _x_hat(x)).max() > 1e-1


def test_moving_statistics_per_step_used_in_inference():
  """Moving stats have shape [T, C], follow momentum * old + (1 - momentum) * batch per time step, and an
  inference call normalises with them."""
  x, cond = _data()
  layer = BatchNorm(momentum=0.9, epsilon=EPS)
  layer(x, training=True)
  mean = x.mean(axis=(0, 2, 3))
  var = x.var(axis=(0, 2, 3))
  assert layer.moving_mean.shape == (3, 2)
  np.testing.assert_allclose(layer.moving_mean.numpy(), 0.1 * mean, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-5, atol=1e-6)
  mm = layer.moving_mean.numpy()[None, :, None, None, :]
  mv = layer.moving_variance.numpy()[None, :, None, None, :]
  np.testing.assert_allclose(layer(x, training=False).numpy(), (x - mm) / np.sqrt(mv + EPS),
                             rtol=1e-5, atol=1e-5)


def test_frames_input_reduces_over_batch_height_width():
  """A 4-D [N, H, W, C] input is normalised with moments over N, H, W (moving stats [C])."""
  x, _ = _data()
  frames = x.reshape(-1, 3, 3, 2)
  layer = BatchNorm(epsilon=EPS)
  y = layer(frames, training=True).numpy()
  expected = (frames - frames.mean((0, 1, 2))) / np.sqrt(frames.var((0, 1, 2)) + EPS)
  np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
  assert layer.moving_mean.shape == (2,)


def test_mixed_precision_keeps_float32_moments():
  """Under a mixed_bfloat16 policy the output is bfloat16, moving stats stay float32, and the result matches
  the float32 layer to bfloat16 precision."""
  x, cond = _data()
  ref = ClassConditionalBatchNorm(epsilon=EPS)
  mixed = ClassConditionalBatchNorm(epsilon=EPS, dtype="mixed_bfloat16")
  ref.build(x.shape, cond.shape)
  mixed.build(x.shape, cond.shape)
  mixed.set_weights(ref.get_weights())
  y_ref = ref(x, cond, training=True).numpy()
  y = mixed(x, cond, training=True)
  assert y.dtype == tf.bfloat16
  assert mixed.moving_mean.dtype == "float32"
  np.testing.assert_allclose(tf.cast(y, tf.float32).numpy(), y_ref, rtol=5e-2, atol=5e-2)


def test_wrong_number_of_frames_is_a_clear_error():
  """A layer built for T frames refuses another T with a one-line ValueError naming the problem."""
  x, cond = _data(t=3)
  layer = ClassConditionalBatchNorm()
  layer(x, cond, training=True)
  x5, _ = _data(t=5)
  with pytest.raises(ValueError, match="T=3"):
    layer(x5, cond, training=True)


def test_cross_replica_statistics_match_single_replica(two_replicas):
  """The same batch split over 2 replicas (MirroredStrategy on /cpu:0, /cpu:1) gives the same normalised
  output, the same moving statistics and the same gradient with respect to x (each replica's part of the
  gradient of the global loss: the written-out gradient all-reduces its sums) as on 1 replica; per-replica
  (local) statistics would not."""
  x, cond = _data(b=4)
  x[2:] += 3.0  # the two halves have different statistics, so local BN would differ
  strategy = two_replicas.strategy
  with strategy.scope():
    layer = ClassConditionalBatchNorm(momentum=0.5, epsilon=EPS)
    layer.build(x.shape, cond.shape)
  single = ClassConditionalBatchNorm(momentum=0.5, epsilon=EPS)
  single.build(x.shape, cond.shape)
  single.set_weights(layer.get_weights())

  weights = np.random.RandomState(7).randn(*x.shape).astype("float32")  # loss = sum(y * weights)

  def replica_fn(a, c, w):
    with tf.GradientTape() as tape:
      tape.watch(a)
      y = layer(a, c, training=True)
      loss = tf.reduce_sum(y * w)
    return y, tape.gradient(loss, a)

  @tf.function
  def step(xs, cs, ws):
    return strategy.run(replica_fn, args=(xs, cs, ws))

  out, dx = step(two_replicas.split(x), two_replicas.split(cond), two_replicas.split(weights))
  y = np.concatenate([t.numpy() for t in strategy.experimental_local_results(out)])
  dx = np.concatenate([t.numpy() for t in strategy.experimental_local_results(dx)])
  x_single = tf.constant(x)
  with tf.GradientTape() as tape:
    tape.watch(x_single)
    y_single = single(x_single, cond, training=True)
    loss = tf.reduce_sum(y_single * weights)
  dx_single = tape.gradient(loss, x_single).numpy()
  np.testing.assert_allclose(y, y_single.numpy(), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(dx, dx_single, rtol=1e-4, atol=1e-5)
  for var_dist, var_single in ((layer.moving_mean, single.moving_mean),
                               (layer.moving_variance, single.moving_variance)):
    for replica_value in var_dist.value.values:
      np.testing.assert_allclose(replica_value.numpy(), var_single.numpy(), rtol=1e-5, atol=1e-5)
  local = ClassConditionalBatchNorm(momentum=0.5, epsilon=EPS)
  local.build(x[:2].shape, cond[:2].shape)
  local.set_weights(single.get_weights())
  y_local = np.concatenate([local(x[:2], cond[:2], training=True), local(x[2:], cond[2:], training=True)])
  assert np.abs(y_local - y).max() > 1e-2


def test_per_step_sums_equal_the_generic_reduction_static_and_dynamic_batch():
  """The two-step per-time-step sum (a speed-up) equals tf.reduce_sum over B, H, W, also with unknown B."""
  x = tf.random.normal([3, 4, 5, 6, 7], seed=1)
  want = tf.reduce_sum(x, axis=[0, 2, 3]).numpy()[:, None]                 # [T, 1, C]
  np.testing.assert_allclose(_sum_b_hw(_grouped(x)).numpy(), want, rtol=1e-5, atol=1e-5)
  dynamic = tf.function(lambda v: _sum_b_hw(_grouped(v)),
                        input_signature=[tf.TensorSpec([None, 4, 5, 6, 7], tf.float32)])
  np.testing.assert_allclose(dynamic(x).numpy(), want, rtol=1e-5, atol=1e-5)


def _textbook(x, scale, offset):
  """(x - mean) / sqrt(var + eps) * scale + offset with tf.nn.moments over B, H, W: the reference whose
  automatic gradient the written-out one must equal."""
  axes = [0, 2, 3] if x.shape.rank == 5 else [0, 1, 2]
  mean, var = tf.nn.moments(x, axes, keepdims=True)
  if scale.shape.rank == 2:  # one per video / frame: [B, 1, ..., 1, C]
    shape = [scale.shape[0]] + [1] * (x.shape.rank - 2) + [scale.shape[1]]
    scale, offset = tf.reshape(scale, shape), tf.reshape(offset, shape)
  return (x - mean) / tf.sqrt(var + EPS) * scale + offset


@pytest.mark.parametrize("shape", [[4, 3, 5, 6, 7], [6, 5, 4, 7]], ids=["video", "frames"])
@pytest.mark.parametrize("per_video", [False, True], ids=["shared_scale", "per_video_scale"])
def test_written_out_gradient_equals_the_automatic_gradient_of_the_formula(shape, per_video):
  """batch_normalize's value and its gradients with respect to x, scale and offset (its gradient is written
  out, the moments' dependence on x included) equal those of the textbook formula differentiated by
  TensorFlow, for videos and frames, with one scale for the batch and one per video."""
  x = tf.random.normal(shape, seed=1) * 2.0 + 1.0
  weights = tf.random.normal(shape, seed=2)
  scale = tf.random.normal([shape[0], shape[-1]] if per_video else [shape[-1]], seed=3) + 1.0
  offset = tf.random.normal(scale.shape, seed=4)
  axes = [0, 2, 3] if len(shape) == 5 else [0, 1, 2]
  with tf.GradientTape(persistent=True) as tape:
    tape.watch([x, scale, offset])
    mean, variance = moments(x, axes)
    y = batch_normalize(x, mean, variance, scale, offset, EPS)
    y_ref = _textbook(x, scale, offset)
    loss, loss_ref = tf.reduce_sum(y * weights), tf.reduce_sum(y_ref * weights)
  np.testing.assert_allclose(y.numpy(), y_ref.numpy(), rtol=1e-5, atol=1e-5)
  for got, want in zip(tape.gradient(loss, [x, scale, offset]), tape.gradient(loss_ref, [x, scale, offset])):
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)


def test_layer_training_gradient_equals_the_formula_s_including_the_last_batch_norm():
  """BatchNorm (G's last batch norm: one scale for the batch) in a training call: the gradients with respect
  to its input, scale and offset equal the textbook formula's automatic ones, for a dynamic batch too."""
  x = tf.random.normal([3, 4, 5, 5, 6], seed=5)
  weights = tf.random.normal(x.shape, seed=6)
  layer = BatchNorm(epsilon=EPS)
  layer.build(x.shape)
  layer.scale.assign(tf.random.normal([6], seed=7) + 1.0)
  layer.offset.assign(tf.random.normal([6], seed=8))

  @tf.function(input_signature=[tf.TensorSpec([None, 4, 5, 5, 6], tf.float32)])
  def grads(v):
    with tf.GradientTape() as tape:
      tape.watch(v)
      loss = tf.reduce_sum(layer(v, training=True) * weights)
    return tape.gradient(loss, [v, layer.scale, layer.offset])

  with tf.GradientTape() as tape:
    tape.watch(x)
    scale, offset = tf.convert_to_tensor(layer.scale), tf.convert_to_tensor(layer.offset)
    tape.watch([scale, offset])
    loss_ref = tf.reduce_sum(_textbook(x, scale, offset) * weights)
  want = tape.gradient(loss_ref, [x, scale, offset])
  for got, ref in zip(grads(x), want):
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-4, atol=1e-5)
