"""Shape helpers shared by the layers: folding time into the batch axis and back.

A video tensor is `[B, T, H, W, C]`; the per-frame residual networks of DVD-GAN act on `[B*T, H, W, C]`.
The fold is row-major: frame t of video b lands at index `b * T + t`, so anything per video (e.g. the
conditioning vector) must be repeated with `tf.repeat(cond, T, axis=0)`, never tiled.
"""
import tensorflow as tf


def static_or_dynamic_shape(x):
  """Returns the shape of `x` as a list: Python ints where static, scalar tensors where not."""
  static = x.shape.as_list()
  if None not in static:
    return static  # no Shape op for a static shape (a training step's ops are counted: docs/performance.md)
  dynamic = tf.shape(x)
  return [d if d is not None else dynamic[i] for i, d in enumerate(static)]


def fold_time(x):
  """Folds time into batch.

  Args:
    x: `[B, T, H, W, C]` video tensor.

  Returns:
    `(frames, B, T)`: frames `[B*T, H, W, C]` (frame t of video b at index b*T + t), and B, T as Python ints
    where static, scalar tensors otherwise.
  """
  if x.shape.rank != 5:
    raise ValueError(f"fold_time expects a [B, T, H, W, C] tensor, got shape {x.shape}")
  b, t, h, w, c = static_or_dynamic_shape(x)
  return tf.reshape(x, [b * t, h, w, c]), b, t


def unfold_time(x, b, t):
  """Inverse of `fold_time`: `[B*T, H, W, C]` -> `[B, T, H, W, C]`."""
  if x.shape.rank != 4:
    raise ValueError(f"unfold_time expects a [B*T, H, W, C] tensor, got shape {x.shape}")
  _, h, w, c = static_or_dynamic_shape(x)
  return tf.reshape(x, [b, t, h, w, c])


def repeat_elements(x, repeats):
  """`x` with each element repeated along the axes of `repeats` ({axis: times}), as `tf.repeat` along each would
  give it (element i becomes elements i*times .. i*times + times - 1), in one broadcast of a reshape: 3 ops
  instead of ~12 per axis for `tf.repeat`, the values copied exactly. The gradient sums the copies one axis at a
  time (TensorFlow's gradient of the broadcast would reduce over all repeated axes in one strided reduction, ~4x
  slower on CPU)."""
  shape = static_or_dynamic_shape(x)
  repeats = {axis % len(shape): int(times) for axis, times in repeats.items()}
  expanded, broadcast, out, summed = [], [], [], []
  for axis, d in enumerate(shape):
    times = repeats.get(axis, 1)
    if times > 1:
      summed.append(len(broadcast) + 1)
    expanded += [d, 1] if times > 1 else [d]
    broadcast += [d, times] if times > 1 else [d]
    out.append(d * times)

  @tf.custom_gradient
  def repeat(x):
    def grad(dy):
      g = tf.reshape(dy, broadcast)
      for axis in reversed(summed):  # the later axis first: the earlier axes keep their positions
        g = tf.reduce_sum(g, axis=axis)
      return g

    return tf.reshape(tf.broadcast_to(tf.reshape(x, expanded), broadcast), out), grad

  return repeat(x)


def repeat_per_frame(cond, t):
  """Repeats a per-video tensor `[B, ...]` to `[B*T, ...]` in the order of `fold_time`."""
  return repeat_elements(cond, {0: t})


def upsample_nearest_2x(x, axes):
  """Nearest-neighbour 2x upsampling of `x` along each of `axes` (e.g. (1, 2) for [N, H, W, C])."""
  return repeat_elements(x, {axis: 2 for axis in axes})
