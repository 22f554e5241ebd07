"""Shape helpers shared by the layers: folding time into the batch axis and back.

A video tensor is `[B, T, H, W, C]`; the per-frame residual networks of DVD-GAN act on `[B*T, H, W, C]`.
The fold is row-major: frame t of video b lands at index `b * T + t`, so anything per video (e.g. the
conditioning vector) must be repeated with `tf.repeat(cond, T, axis=0)`, never tiled.
"""
import tensorflow as tf


def static_or_dynamic_shape(x):
  """Returns the shape of `x` as a list: Python ints where static, scalar tensors where not."""
  static = x.shape.as_list()
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


def repeat_per_frame(cond, t):
  """Repeats a per-video tensor `[B, ...]` to `[B*T, ...]` in the order of `fold_time`."""
  return tf.repeat(cond, t, axis=0)


def upsample_nearest_2x(x, axes):
  """Nearest-neighbour 2x upsampling of `x` along each of `axes` (e.g. (1, 2) for [N, H, W, C])."""
  for axis in axes:
    x = tf.repeat(x, 2, axis=axis)
  return x
