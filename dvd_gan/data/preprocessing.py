"""Clip preprocessing shared by every dataset (docs/paper.md, appendix A.1).

A clip of N decoded frames [N, H, W, 3] becomes a training example [T, S, S, 3] float32 in [-1, 1]:
  1. a contiguous run of T frames taken every `stride` frames, starting at a random offset
     (`sample_frame_indices`),
  2. bilinear resize so that the shorter side equals S, aspect ratio kept (`resize_shorter_side`),
  3. a random S x S crop along the longer side (`crop_square`),
  4. uint8 [0, 255] -> float32 [-1, 1] (`to_unit_range`).
Frames are selected before resizing (only the T kept frames are resized); the result is the same as resizing
the whole clip first. Randomness is stateless: every random choice is a function of an explicit seed
([2] int tensor), so a pipeline is deterministic given its seed. `seed=None` means evaluation: the frame
offset is fixed (`eval_offset`) and the crop is centred.
"""
from typing import Optional, Tuple

import tensorflow as tf


def resized_shape(height, width, size: int) -> Tuple[tf.Tensor, tf.Tensor]:
  """Shape (h, w) with min(h, w) == size and the aspect ratio of (height, width) kept (longer side rounded)."""
  height = tf.cast(height, tf.float32)
  width = tf.cast(width, tf.float32)
  scale = tf.cast(size, tf.float32) / tf.minimum(height, width)
  new_h = tf.maximum(tf.cast(tf.math.floor(height * scale + 0.5), tf.int32), size)
  new_w = tf.maximum(tf.cast(tf.math.floor(width * scale + 0.5), tf.int32), size)
  # The shorter side is exactly `size` (no rounding error on it).
  new_h = tf.where(height <= width, tf.constant(size, tf.int32), new_h)
  new_w = tf.where(width < height, tf.constant(size, tf.int32), new_w)
  return new_h, new_w


def resize_shorter_side(video: tf.Tensor, size: int) -> tf.Tensor:
  """Bilinear resize (half-pixel centres, no antialiasing) of [T, H, W, C] to [T, h, w, C] float32, min(h, w) = size."""
  shape = tf.shape(video)
  new_h, new_w = resized_shape(shape[1], shape[2], size)
  return tf.image.resize(tf.cast(video, tf.float32), tf.stack([new_h, new_w]), method="bilinear")


def crop_offsets(height, width, size: int, seed: Optional[tf.Tensor]) -> Tuple[tf.Tensor, tf.Tensor]:
  """Top-left corner of a size x size crop in a [height, width] frame: uniform random given `seed`, else centred."""
  max_y = tf.cast(height, tf.int32) - size
  max_x = tf.cast(width, tf.int32) - size
  if seed is None:
    return max_y // 2, max_x // 2
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
  y = tf.random.stateless_uniform([], seeds[0], minval=0, maxval=max_y + 1, dtype=tf.int32)
  x = tf.random.stateless_uniform([], seeds[1], minval=0, maxval=max_x + 1, dtype=tf.int32)
  return y, x


def crop_square(video: tf.Tensor, size: int, seed: Optional[tf.Tensor]) -> tf.Tensor:
  """Crop [T, h, w, C] (min(h, w) >= size) to [T, size, size, C] at `crop_offsets`."""
  shape = tf.shape(video)
  y, x = crop_offsets(shape[1], shape[2], size, seed)
  return video[:, y:y + size, x:x + size, :]


def frame_span(num_frames: int, stride: int) -> int:
  """Number of source frames covered by `num_frames` frames taken every `stride` frames."""
  return (num_frames - 1) * stride + 1


def sample_frame_indices(num_available, num_frames: int, stride: int, seed: Optional[tf.Tensor],
                         eval_offset: int = 0) -> tf.Tensor:
  """[num_frames] int32 indices offset + stride * arange(num_frames) into a clip of `num_available` frames.

  The offset is uniform in [0, num_available - span] given `seed`, else min(eval_offset, num_available - span).
  The caller guarantees num_available >= frame_span(num_frames, stride) (shorter clips are filtered out).
  """
  max_offset = tf.maximum(tf.cast(num_available, tf.int32) - frame_span(num_frames, stride), 0)
  if seed is None:
    offset = tf.minimum(tf.constant(eval_offset, tf.int32), max_offset)
  else:
    offset = tf.random.stateless_uniform([], tf.cast(seed, tf.int64), minval=0, maxval=max_offset + 1,
                                         dtype=tf.int32)
  return offset + stride * tf.range(num_frames, dtype=tf.int32)


def to_unit_range(video: tf.Tensor) -> tf.Tensor:
  """uint8-valued [0, 255] -> float32 [-1, 1]."""
  return tf.cast(video, tf.float32) / 127.5 - 1.0


def spatial_preprocess(frames: tf.Tensor, resolution: int, seed: Optional[tf.Tensor]) -> tf.Tensor:
  """Frames [T, H, W, 3] (uint8 or float in [0, 255]) -> [T, S, S, 3] float32 in [-1, 1]: resize, crop, scale."""
  video = crop_square(resize_shorter_side(frames, resolution), resolution, seed)
  video = tf.clip_by_value(to_unit_range(video), -1.0, 1.0)
  return tf.ensure_shape(video, [None, resolution, resolution, frames.shape[-1]])


def preprocess_clip(clip: tf.Tensor, *, num_frames: int, resolution: int, stride: int,
                    seed: Optional[tf.Tensor], eval_offset: int = 0) -> tf.Tensor:
  """A decoded clip [N, H, W, 3] -> [num_frames, resolution, resolution, 3] float32 in [-1, 1].

  With `seed` ([2] int): random frame offset and random crop, each from its own stateless sub-seed.
  With seed=None: frame offset `eval_offset` and a centre crop.
  """
  if seed is None:
    time_seed = space_seed = None
  else:
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    time_seed, space_seed = seeds[0], seeds[1]
  indices = sample_frame_indices(tf.shape(clip)[0], num_frames, stride, time_seed, eval_offset)
  video = spatial_preprocess(tf.gather(clip, indices), resolution, space_seed)
  return tf.ensure_shape(video, [num_frames, resolution, resolution, clip.shape[-1]])


def split_conditioning(video: tf.Tensor, num_conditioning_frames: int) -> Tuple[tf.Tensor, tf.Tensor]:
  """[C + T, ...] -> (context [C, ...], target [T, ...]) for frame-conditional prediction (DVD-GAN-FP)."""
  return video[:num_conditioning_frames], video[num_conditioning_frames:]
