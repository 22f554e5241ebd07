"""The embedded synthetic dataset: range, determinism, disjoint splits, and that every video shows its class
(shape and direction read back from the pixels by `class_cues`)."""
import numpy as np
import pytest

from dvd_gan.data import synthetic


def _videos(n, res=16, split="test", seed=0, t=12, variant="synthesis"):
  items = list(synthetic.synthetic_dataset(t, res, seed, split, variant=variant).take(n))
  return np.stack([e["video"].numpy() for e in items]), np.array([int(e["label"]) for e in items])


def test_range_shape_and_all_classes():
  """Videos are float32 [T, H, W, 3] within [-1, 1]; labels cover all 8 classes."""
  v, y = _videos(96, res=16, t=5)
  assert v.shape == (96, 5, 16, 16, 3) and v.dtype == np.float32
  assert v.min() >= -1.0 and v.max() <= 1.0
  assert set(y.tolist()) == set(range(synthetic.NUM_CLASSES)) and synthetic.NUM_CLASSES == 8
  assert len(synthetic.CLASS_NAMES) == 8 and synthetic.CLASS_NAMES[0] == "square-right"


def test_videos_are_a_function_of_seed_split_and_index():
  """The same (seed, split, index) gives the same video; another split or seed gives other videos; a
  stream started at `start_index` continues the full stream."""
  a, ya = _videos(4)
  b, yb = _videos(4)
  np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(ya, yb)
  assert not np.allclose(a, _videos(4, split="validation")[0])
  assert not np.allclose(a, _videos(4, seed=1)[0])
  tail = next(iter(synthetic.synthetic_dataset(12, 16, 0, "test", start_index=3)))
  np.testing.assert_array_equal(tail["video"].numpy(), a[3])


@pytest.mark.parametrize("res", [16, 32])
def test_every_video_shows_its_class(res):
  """Shape and direction read from the pixels match the label for every real video (accuracy 1.0), and a
  wrong labelling (each label's direction shifted by one) is caught (direction accuracy 0)."""
  v, y = _videos(64, res=res)
  cues = synthetic.class_cues(v, y)
  assert cues["direction_accuracy"] == 1.0 and cues["shape_accuracy"] == 1.0
  assert 0.1 * res / 16 < cues["median_speed"] < 1.0 * res / 16
  shifted = 4 * (y // 4) + (y % 4 + 1) % 4
  assert synthetic.class_cues(v, shifted)["direction_accuracy"] == 0.0


def test_prediction_variant_moves_twice_as_fast_and_its_continuation_shows_the_class():
  """The "prediction" variant (DVD-GAN-FP demo): about 1 pixel per frame at 16x16 (twice the default), and
  both the first 4 frames and the 8 that follow show the clip's direction and shape (accuracy 1.0)."""
  v, y = _videos(64, variant="prediction")
  slow = synthetic.class_cues(*_videos(64))["median_speed"]
  for part in (v[:, :4], v[:, 4:]):
    cues = synthetic.class_cues(part, y)
    assert cues["direction_accuracy"] == 1.0 and cues["shape_accuracy"] == 1.0
    assert 0.8 < cues["median_speed"] < 1.2 and cues["median_speed"] > 1.7 * slow
  with pytest.raises(ValueError, match="unknown variant"):
    synthetic.synthetic_dataset(4, 16, 0, variant="fast")


def test_static_grey_videos_score_no_better_than_chance():
  """Videos without a shape or motion get no credit for direction beyond one class in four."""
  v = np.zeros((16, 6, 16, 16, 3), np.float32)
  y = np.arange(16) % 8
  assert synthetic.class_cues(v, y)["direction_accuracy"] <= 0.25


def test_bad_arguments_raise_one_line_errors():
  with pytest.raises(ValueError, match="unknown split"):
    synthetic.synthetic_dataset(4, 16, 0, "dev")
  with pytest.raises(ValueError, match="resolution >= 8"):
    synthetic.synthetic_dataset(4, 4, 0)


def test_background_flicker_is_zero_on_real_videos_and_measures_added_noise():
  """Real videos (a moving shape on a flat background) flicker 0; Gaussian noise of s levels, drawn
  anew every frame on every pixel, reads as E|x - y| = 2 s / sqrt(pi) levels on the background; noise on
  the shape's pixels only is left out (0); a 1-frame video is a one-line error."""
  v, _ = _videos(32, res=16)
  assert synthetic.background_flicker(v) == 0.0
  rng = np.random.default_rng(0)
  s = 2.0
  noisy = v + rng.normal(0.0, s / 127.5, v.shape)
  np.testing.assert_allclose(synthetic.background_flicker(noisy), 2 * s / np.sqrt(np.pi), rtol=0.02)
  lum = (v.max(axis=-1) + 1.0) / 2.0
  shape = (lum - np.median(lum.reshape(len(v), -1), axis=1)[:, None, None, None] > 0.25)[..., None]
  assert synthetic.background_flicker(np.where(shape, noisy, v)) == 0.0
  with pytest.raises(ValueError, match="at least 2 frames"):
    synthetic.background_flicker(v[:, :1])


def test_hold_background_removes_only_the_background_flicker():
  """Noisy videos with their background held still flicker 0 and keep every shape pixel (and every pixel of a
  real video) as it was."""
  v, _ = _videos(16, res=16)
  np.testing.assert_allclose(synthetic.hold_background(v), v, atol=1e-6)
  noisy = v + np.random.default_rng(1).normal(0.0, 2.0 / 127.5, v.shape)
  held = synthetic.hold_background(noisy)
  assert synthetic.background_flicker(held) < 1e-9
  keep = ~synthetic.background_mask(noisy)
  np.testing.assert_array_equal(held.transpose(0, 2, 3, 1, 4)[keep], noisy.transpose(0, 2, 3, 1, 4)[keep])
  assert synthetic.background_mask(noisy).mean() > 0.5
