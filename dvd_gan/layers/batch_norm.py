"""Batch normalisation with per-time-step, cross-replica statistics (docs/paper.md, "Class-conditional batch norm").

Statistics of a video tensor `[B, T, H, W, C]` reduce over batch, height and width, NEVER over time: each
time step has its own mean and variance `[T, C]`, so G cannot pass information across frames through batch
statistics. A frame tensor `[N, H, W, C]` reduces over N, H, W (`[C]`).

Under `tf.distribute` (replica context with more than one replica) the per-replica sum, sum of squares
and count are all-reduced (`tf.distribute.get_replica_context().all_reduce`, SUM) before the moments are
formed, so every replica normalises with the statistics of the global batch (BigGAN's cross-replica BN).
Moments are computed in float32 whatever the compute dtype; the variance is the biased one (divide by the
count), floored at 0.

Moving statistics (`moving_mean`, `moving_variance`, float32, non-trainable, ONLY_FIRST_REPLICA
aggregation) have the shape of the batch moments: `[T, C]` for a 5-D input (one pair per time step, so a
layer built on T frames only runs inference on T frames) and `[C]` for a 4-D input. They are updated in
training calls, `moving = momentum * moving + (1 - momentum) * batch`, and used when `training` is false.

The training-mode normalisation has its gradient written out (`batch_normalize`, tf.custom_gradient): with
x_hat = (x - mean) * inv, inv = 1 / sqrt(var + eps), y = x_hat * s + o and g = dL/dy,

  dL/do = sum_{H,W} g,  dL/ds = sum_{H,W} g * x_hat                  (then over B, T where s, o are shared)
  dL/dx = inv * (g * s - mean_R(g * s) - x_hat * mean_R(g * s * x_hat))   (R: B, H, W of every replica)

where both mean_R terms come from the per-video sums above, so the backward pass makes five full-size
elementwise operations and two full-size reductions, both over H*W of [B*T, H*W, C]. TensorFlow's automatic
gradient of the same forward reduced over B, H, W in one strided reduction for a scale shared by the batch
(G's last batch norm), which cost as much as the rest of the layer on CPU (docs/performance.md).
"""
import keras
import tensorflow as tf

from dvd_gan.layers import remat, util
from dvd_gan.layers.spectral_norm import SNDense

_PACKAGE = "dvd_gan"


def _reduction_axes(rank):
  if rank == 5:
    return [0, 2, 3]  # B, H, W: per time step
  if rank == 4:
    return [0, 1, 2]  # N, H, W
  raise ValueError(f"batch norm expects [B, T, H, W, C] or [N, H, W, C] input, got rank {rank}")


def _grouped(x):
  """[B, T, H, W, C] -> [B, T, H*W, C]; [N, H, W, C] -> [N, 1, H*W, C]: the statistics are per (T, C) of the
  grouped view, reduced over its axes 0 and 2."""
  shape = util.static_or_dynamic_shape(x)
  if len(shape) == 5:
    b, t, h, w, c = shape
  else:
    (b, h, w, c), t = shape, 1
  return tf.reshape(x, [b, t, h * w, c])


def _sum_b_hw(v):
  """[B, T, HW, C] -> [T, 1, C]: the sum over B and HW as two reductions TensorFlow has fast kernels for (the
  middle axis of [B*T, HW, C], then the first of [B, T*C]) instead of one strided reduction over both, about 3x
  faster on CPU (the same sums up to float rounding)."""
  return tf.reduce_sum(tf.reduce_sum(v, axis=2, keepdims=True), axis=0)


def _count(xg):
  """Entries per statistic of this replica's grouped view [B, T, HW, C]: B * HW, a Python float when static."""
  b, _, hw, _ = xg.shape.as_list()
  if b is not None and hw is not None:
    return float(b * hw)
  shape = tf.shape(xg)
  return tf.cast(shape[0] * shape[2], tf.float32)


def _all_reduce_sums(sums, count):
  """`sums` (a list of tensors) and `count` summed over the replicas of a multi-replica replica context."""
  ctx = tf.distribute.get_replica_context()
  if ctx is not None and ctx.num_replicas_in_sync > 1:
    sums, count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [sums, tf.cast(count, tf.float32)])
  return sums, count


def _moments_grouped(xg):
  """Cross-replica mean and biased variance `[T, 1, C]` of the grouped view xg (float32 [B, T, HW, C])."""
  (total, total_sq), count = _all_reduce_sums([_sum_b_hw(xg), _sum_b_hw(tf.square(xg))], _count(xg))
  mean = total / count
  return mean, tf.maximum(total_sq / count - tf.square(mean), 0.0)


def _per_item(v):
  """A scale or offset `[C]` or `[B, C]` as `[1 or B, 1, 1, C]`, to broadcast over the grouped view."""
  return tf.reshape(v, [-1 if v.shape.rank == 2 else 1, 1, 1, v.shape[-1]])


def affine_normalize(x, mean, variance, scale, offset, epsilon):
  """`(x - mean) / sqrt(variance + epsilon) * scale + offset` in float32 as plain TensorFlow ops (inference,
  with the moving statistics; TensorFlow differentiates it), shapes as in `batch_normalize`."""
  inv = tf.math.rsqrt(variance + epsilon)              # [T, C] or [C]
  if x.shape.rank == 5:
    inv, mean = inv[None], mean[None]                 # [1, T, C]
    if scale.shape.rank == 2:
      scale, offset = scale[:, None], offset[:, None]  # [B, 1, C]
  a = inv * scale
  b = offset - mean * a
  if x.shape.rank == 5:
    a, b = a[:, :, None, None], b[:, :, None, None]   # [B or 1, T, 1, 1, C]
  elif a.shape.rank == 2:
    a, b = a[:, None, None], b[:, None, None]         # [N, 1, 1, C]
  return tf.cast(x, tf.float32) * a + b


def _normalize_grouped(x, xg, mean, variance, scale, offset, epsilon):
  """`batch_normalize` of x given its grouped view xg and the moments `[T, 1, C]` of xg (no gradient flows to
  xg, mean or variance: the gradient with respect to x accounts for them)."""
  per_video = scale.shape.rank == 2
  x_shape = util.static_or_dynamic_shape(x)

  @tf.custom_gradient
  def normalize(x, scale, offset):
    inv = tf.math.rsqrt(variance + epsilon)                       # [T, 1, C]
    s, o = _per_item(scale), _per_item(offset)                    # [B or 1, 1, 1, C]
    a = inv * s                                                   # [B or 1, T, 1, C]
    y = tf.reshape(xg * a + (o - mean * a), x_shape)

    def grad(dy):
      g = _grouped(dy)
      sum_g = tf.reduce_sum(g, axis=2, keepdims=True)             # [B, T, 1, C]
      sum_g_xhat = inv * (tf.reduce_sum(g * xg, axis=2, keepdims=True) - mean * sum_g)
      sums, count = _all_reduce_sums([tf.reduce_sum(sum_g * s, 0), tf.reduce_sum(sum_g_xhat * s, 0)], _count(xg))
      m1, m2 = sums[0] / count, sums[1] / count                   # mean_R(g s), mean_R(g s x_hat): [T, 1, C]
      c_x = inv * inv * m2                                        # dx = g a - x c_x - c_0
      c_0 = inv * m1 - mean * c_x
      dx = tf.reshape(g * a - (xg * c_x + c_0), x_shape)
      if per_video:
        d_scale, d_offset = tf.reduce_sum(sum_g_xhat, [1, 2]), tf.reduce_sum(sum_g, [1, 2])
      else:
        d_scale, d_offset = tf.reduce_sum(sum_g_xhat, [0, 1, 2]), tf.reduce_sum(sum_g, [0, 1, 2])
      return dx, d_scale, d_offset

    return y, grad

  return normalize(x, scale, offset)


def batch_normalize(x, mean, variance, scale, offset, epsilon):
  """`(x - mean) / sqrt(variance + epsilon) * scale + offset` in training mode, with the gradient of the module
  docstring, which includes how the batch moments depend on x.

  Args:
    x: float32 `[B, T, H, W, C]` or `[N, H, W, C]`.
    mean, variance: float32 `[T, C]` or `[C]`: the batch moments of x (`moments` over B, H, W, every replica).
      They are inputs only so that the forward pass is not computed twice; no gradient flows to them (the
      gradient with respect to x already accounts for them), so they must be x's own moments.
    scale, offset: float32 `[C]` (shared by the batch) or `[B, C]` / `[N, C]` (one per video / frame).

  Returns: float32, the shape of x.
  """
  rank = x.shape.rank
  if rank not in (4, 5):
    raise ValueError(f"batch norm expects [B, T, H, W, C] or [N, H, W, C] input, got rank {rank}")
  c = mean.shape[-1]
  mean, variance = (tf.reshape(tf.stop_gradient(m), [-1, 1, c]) for m in (mean, variance))  # [T or 1, 1, C]
  return _normalize_grouped(x, _grouped(x), mean, variance, scale, offset, epsilon)


def moments(x, axes):
  """Cross-replica mean and biased variance of `x` (cast to float32) over `axes`: B, H, W of a video
  `[B, T, H, W, C]` (`[T, C]` each), N, H, W of frames `[N, H, W, C]` (`[C]` each).

  In a replica context of a multi-replica `tf.distribute` strategy, the per-replica sum, sum of squares and
  element count are all-reduced (SUM) first, so the moments are those of the global batch.
  """
  x = tf.cast(x, tf.float32)
  if list(axes) != _reduction_axes(x.shape.rank):
    raise ValueError(f"batch norm moments reduce over {_reduction_axes(x.shape.rank)}, got axes {list(axes)}")
  mean, variance = _moments_grouped(_grouped(x))
  shape = mean.shape[:1] + mean.shape[2:] if x.shape.rank == 5 else mean.shape[2:]
  return tf.reshape(mean, shape), tf.reshape(variance, shape)


class _PerStepBatchNorm(keras.layers.Layer):
  """Normalisation part shared by `BatchNorm` and `ClassConditionalBatchNorm` (no affine)."""

  def __init__(self, momentum=0.999, epsilon=1e-5, **kwargs):
    super().__init__(**kwargs)
    if not 0.0 <= momentum < 1.0:
      raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    self.momentum = float(momentum)
    self.epsilon = float(epsilon)

  def _build_moving_stats(self, x_shape):
    rank = len(x_shape)
    _reduction_axes(rank)
    if rank == 5 and x_shape[1] is None:
      raise ValueError(f"{self.name}: the number of frames T must be static, got shape {x_shape}")
    if x_shape[-1] is None:
      raise ValueError(f"{self.name}: the channel dimension must be known, got shape {x_shape}")
    self._rank = rank
    stat_shape = (x_shape[1], x_shape[-1]) if rank == 5 else (x_shape[-1],)
    self.moving_mean = self.add_weight(
        name="moving_mean", shape=stat_shape, initializer="zeros", dtype="float32", autocast=False,
        trainable=False, aggregation="only_first_replica")
    self.moving_variance = self.add_weight(
        name="moving_variance", shape=stat_shape, initializer="ones", dtype="float32", autocast=False,
        trainable=False, aggregation="only_first_replica")

  def _check_input(self, x):
    if x.shape.rank != self._rank:
      raise ValueError(f"{self.name}: built for rank-{self._rank} input, got shape {x.shape}")
    if self._rank == 5 and x.shape[1] != self.moving_mean.shape[0]:
      raise ValueError(
          f"{self.name}: built for T={self.moving_mean.shape[0]} frames (per-step statistics), "
          f"got T={x.shape[1]}")

  def statistics(self, x, training=None):
    """(mean, variance) float32, `[T, C]` for a video, `[C]` for frames: the per-step batch moments
    (training; the moving statistics are updated) or the moving statistics (inference)."""
    self._check_input(x)
    if not training:
      return tf.convert_to_tensor(self.moving_mean.value), tf.convert_to_tensor(self.moving_variance.value)
    mean, variance = moments(x, _reduction_axes(self._rank))
    self._update_moving_statistics(mean, variance)
    return mean, variance

  def _update_moving_statistics(self, mean, variance):
    decay = 1.0 - self.momentum
    mean, variance = (tf.reshape(m, self.moving_mean.shape) for m in (mean, variance))
    # (not again while a rematerialised block is recomputed: remat.py)
    remat.assign_state(self.moving_mean, lambda: self.moving_mean.value * self.momentum + mean * decay)
    remat.assign_state(self.moving_variance,
                       lambda: self.moving_variance.value * self.momentum + variance * decay)

  def normalize_affine(self, x, scale, offset, training=None):
    """`(x - mean) / sqrt(var + eps) * scale + offset` in float32, evaluated as `x * a + b` with the
    per-channel a = scale / sqrt(var + eps) and b = offset - mean * a formed first on the small statistics
    tensors: two full-size operations instead of four, the same value up to float rounding
    (tests/dvd_gan/layers/test_batch_norm.py checks it against the formula). In training mode through
    `batch_normalize`'s computation, whose gradient is written out (module docstring), on one grouped view of x
    shared with the moments.

    Args:
      x: `[B, T, H, W, C]` (per-step statistics) or `[N, H, W, C]`.
      scale, offset: float32 `[C]` (one affine for all) or `[B, C]` / `[N, C]` (one per video / frame).
    """
    if not training:
      mean, variance = self.statistics(x, training=False)
      return affine_normalize(x, mean, variance, scale, offset, self.epsilon)
    self._check_input(x)
    x = tf.cast(x, tf.float32)
    xg = _grouped(x)
    mean, variance = _moments_grouped(xg)                         # [T, 1, C]
    self._update_moving_statistics(mean, variance)
    return _normalize_grouped(x, xg, mean, variance, scale, offset, self.epsilon)

  def get_config(self):
    config = super().get_config()
    config.update({"momentum": self.momentum, "epsilon": self.epsilon})
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BatchNorm(_PerStepBatchNorm):
  """Unconditional per-time-step, cross-replica batch norm with learned per-channel scale (init 1) and
  offset (init 0); G's final batch norm. `call(x [B,T,H,W,C] or [N,H,W,C], training=None)`."""

  def build(self, x_shape):
    self._build_moving_stats(x_shape)
    channels = x_shape[-1]
    self.scale = self.add_weight(name="scale", shape=(channels,), initializer="ones", dtype="float32",
                                 autocast=False)
    self.offset = self.add_weight(name="offset", shape=(channels,), initializer="zeros", dtype="float32",
                                  autocast=False)

  def call(self, x, training=None):
    out = self.normalize_affine(x, tf.convert_to_tensor(self.scale.value),
                                tf.convert_to_tensor(self.offset.value), training=training)
    return tf.cast(out, self.compute_dtype)

  def compute_output_shape(self, x_shape):
    return x_shape


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ClassConditionalBatchNorm(_PerStepBatchNorm):
  """Class-conditional batch norm (BigGAN): per-step batch norm without its own affine, then
  `out = x_hat * (1 + gamma(cond)) + beta(cond)` with gamma, beta spectrally normalised linear maps
  (`SNDense(C)`), broadcast over T, H, W. Scale is 1 + f(c): at init (or with cond = 0 and no bias) the
  layer is plain batch norm.

  `call(x [B,T,H,W,C], cond [B,D], training=None)`; for a frame tensor `[N,H,W,C]`, cond is `[N,D]`.

  Args:
    momentum, epsilon: moving-statistics decay and variance epsilon.
    use_bias: whether gamma and beta have a bias (BigGAN: no).
  """

  def __init__(self, momentum=0.999, epsilon=1e-5, use_bias=False, **kwargs):
    super().__init__(momentum=momentum, epsilon=epsilon, **kwargs)
    self.use_bias = bool(use_bias)
    self.gamma = None
    self.beta = None

  def build(self, x_shape, cond_shape):
    self._build_moving_stats(x_shape)
    if cond_shape is None or len(cond_shape) != 2 or cond_shape[-1] is None:
      raise ValueError(f"{self.name}: cond must be [B, D] with D known, got shape {cond_shape}")
    channels = x_shape[-1]
    self.gamma = SNDense(channels, use_bias=self.use_bias, name="gamma", dtype=self.dtype_policy)
    self.beta = SNDense(channels, use_bias=self.use_bias, name="beta", dtype=self.dtype_policy)
    self.gamma.build(cond_shape)
    self.beta.build(cond_shape)

  def call(self, x, cond, training=None):
    if cond.shape.rank != 2:
      raise ValueError(f"{self.name}: cond must be [B, D], got shape {cond.shape}")
    cond = tf.cast(cond, tf.float32)
    scale = 1.0 + tf.cast(self.gamma(cond, training=training), tf.float32)  # [B, C]
    offset = tf.cast(self.beta(cond, training=training), tf.float32)
    return tf.cast(self.normalize_affine(x, scale, offset, training=training), self.compute_dtype)

  def compute_output_shape(self, x_shape, cond_shape):
    return x_shape

  def get_config(self):
    config = super().get_config()
    config["use_bias"] = self.use_bias
    return config
