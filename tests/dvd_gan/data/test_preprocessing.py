"""Clip preprocessing (dvd_gan.data.preprocessing) against an independent numpy reference."""
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.data import preprocessing


def _np_resize_bilinear(video, out_h, out_w):
  """Half-pixel-centre bilinear resize of [T, H, W, C] in numpy (the reference)."""
  t, h, w, c = video.shape
  video = video.astype(np.float64)

  def axis(n_in, n_out):
    src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    lo = np.floor(src)
    frac = src - lo
    lo_i = np.clip(lo.astype(int), 0, n_in - 1)
    hi_i = np.clip(lo.astype(int) + 1, 0, n_in - 1)
    return lo_i, hi_i, frac

  y0, y1, fy = axis(h, out_h)
  x0, x1, fx = axis(w, out_w)
  rows = video[:, y0] * (1 - fy)[None, :, None, None] + video[:, y1] * fy[None, :, None, None]
  return rows[:, :, x0] * (1 - fx)[None, None, :, None] + rows[:, :, x1] * fx[None, None, :, None]


def _np_shorter_side_shape(h, w, size):
  if h <= w:
    return size, int(np.floor(w * size / h + 0.5))
  return int(np.floor(h * size / w + 0.5)), size


@pytest.mark.parametrize("h,w,size", [(24, 40, 16), (40, 24, 16), (30, 30, 12), (12, 20, 16), (17, 50, 8)])
def test_resize_shorter_side_matches_numpy(h, w, size):
  """Resize makes the shorter side `size`, keeps the aspect ratio, and equals numpy bilinear (half-pixel)."""
  rng = np.random.default_rng(h * 100 + w)
  video = rng.integers(0, 256, size=(2, h, w, 3)).astype(np.uint8)
  out = preprocessing.resize_shorter_side(tf.constant(video), size).numpy()
  expected_shape = _np_shorter_side_shape(h, w, size)
  assert out.shape == (2,) + expected_shape + (3,)
  np.testing.assert_allclose(out, _np_resize_bilinear(video, *expected_shape), atol=1e-3)


def test_crop_is_a_window_of_the_resized_clip_along_the_longer_side():
  """With a seed, the S x S output is exactly a window of the resized clip (scaled to [-1, 1]) whose offset
  lies along the longer side only; different seeds give different windows; no seed gives the centre."""
  rng = np.random.default_rng(0)
  video = rng.integers(0, 256, size=(3, 20, 60, 3)).astype(np.uint8)  # wide: crop moves along width
  size = 10
  resized = _np_resize_bilinear(video, *_np_shorter_side_shape(20, 60, size)) / 127.5 - 1.0  # [3, 10, 30, 3]
  offsets = set()
  for s in range(12):
    out = preprocessing.spatial_preprocess(tf.constant(video), size, tf.constant([7, s])).numpy()
    matches = [x for x in range(resized.shape[2] - size + 1)
               if np.allclose(out, resized[:, :, x:x + size], atol=1e-4)]
    assert len(matches) == 1, "output is not a window of the resized clip"
    offsets.add(matches[0])
  assert len(offsets) > 3, "random crop offsets do not vary with the seed"
  centre = preprocessing.spatial_preprocess(tf.constant(video), size, None).numpy()
  x = (resized.shape[2] - size) // 2
  np.testing.assert_allclose(centre, resized[:, :, x:x + size], atol=1e-4)
  assert centre.min() >= -1.0 and centre.max() <= 1.0


@pytest.mark.parametrize("num_frames,stride", [(4, 1), (4, 2), (3, 3)])
def test_frames_are_contiguous_with_stride(num_frames, stride):
  """The selected frames are offset + stride * k for k < T, inside the clip, offsets covering every valid start."""
  n = 13
  video = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None] * 10, (n, 8, 8, 3)).copy()
  span = (num_frames - 1) * stride + 1
  starts = set()
  for s in range(60):
    out = preprocessing.preprocess_clip(tf.constant(video), num_frames=num_frames, resolution=8,
                                        stride=stride, seed=tf.constant([3, s])).numpy()
    frame_ids = np.round((out[:, 0, 0, 0] + 1.0) * 127.5 / 10).astype(int)
    np.testing.assert_array_equal(np.diff(frame_ids), stride)
    assert 0 <= frame_ids[0] and frame_ids[-1] < n
    starts.add(frame_ids[0])
  assert starts == set(range(n - span + 1))


def test_deterministic_given_seed_and_fixed_for_eval():
  """Same seed -> identical output; another seed -> a different output; seed=None uses eval_offset."""
  rng = np.random.default_rng(1)
  clip = tf.constant(rng.integers(0, 256, size=(20, 16, 24, 3)).astype(np.uint8))
  kwargs = dict(num_frames=5, resolution=8, stride=2)
  a = preprocessing.preprocess_clip(clip, seed=tf.constant([1, 2]), **kwargs).numpy()
  b = preprocessing.preprocess_clip(clip, seed=tf.constant([1, 2]), **kwargs).numpy()
  c = preprocessing.preprocess_clip(clip, seed=tf.constant([1, 3]), **kwargs).numpy()
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  idx = preprocessing.sample_frame_indices(20, 5, 2, None, eval_offset=3).numpy()
  np.testing.assert_array_equal(idx, [3, 5, 7, 9, 11])
  idx = preprocessing.sample_frame_indices(20, 5, 2, None, eval_offset=100).numpy()  # clamped to the clip
  np.testing.assert_array_equal(idx, [11, 13, 15, 17, 19])


def test_split_conditioning():
  """Context is the first C frames, the target the remaining ones, in order."""
  video = tf.reshape(tf.range(6 * 2, dtype=tf.float32), [6, 1, 1, 2])
  context, target = preprocessing.split_conditioning(video, 2)
  np.testing.assert_array_equal(context.numpy(), video.numpy()[:2])
  np.testing.assert_array_equal(target.numpy(), video.numpy()[2:])
