"""Streaming feature extraction: batched, padded, prefetched statistics equal one forward pass on all videos."""
import numpy as np
import pytest

from eval.errors import EvalError
from eval.features import extract_features


def test_streaming_features_equal_one_shot_forward(tiny_network, make_videos):
  """Batches of 4 (last one padded) give the same features, mean and covariance as one forward on all 10."""
  videos = make_videos(10)
  stats = extract_features(videos, tiny_network, "logits", batch_size=4, store_features=True, progress=False)
  expected = tiny_network.features(videos, "logits").numpy().astype(np.float64)
  np.testing.assert_allclose(stats.features, expected, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(stats.mean, expected.mean(0), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(stats.cov, np.cov(expected, rowvar=False), rtol=1e-4, atol=1e-5)
  assert stats.num_items == 10
  meta = stats.metadata
  assert (meta["network"], meta["layer"], meta["frames"], meta["num_videos"], meta["resolution"]) == (
      "i3d-kinetics-400", "logits", 6, 10, [10, 12])


def test_forward_is_traced_once_per_input_shape(tiny_network, make_videos):
  """Fixed-size (padded) batches: 10 videos in batches of 4 trace the forward once; a later call with the same
  network reuses that trace and traces only a new size (once); another layer is its own function."""
  extract_features(list(make_videos(10)), tiny_network, "avgpool", batch_size=4, progress=False)
  assert tiny_network.traces == 1
  mixed = list(make_videos(3)) + list(make_videos(2, h=20, w=20))
  stats = extract_features(mixed, tiny_network, "avgpool", batch_size=4, store_features=True, progress=False)
  assert tiny_network.traces == 2 and stats.num_items == 5 and stats.metadata["resolution"] == "mixed"
  extract_features(mixed, tiny_network, "logits", batch_size=4, progress=False)
  assert tiny_network.traces == 4


def test_iterables_of_batches_and_named_videos_are_accepted(tiny_network, make_videos):
  """An iterable of batches [B, T, H, W, 3] gives the same statistics as the whole array."""
  videos = make_videos(7)
  a = extract_features(videos, tiny_network, "logits", batch_size=3, progress=False)
  b = extract_features(iter([videos[:2], videos[2:]]), tiny_network, "logits", batch_size=2, progress=False)
  np.testing.assert_allclose(a.mean, b.mean, rtol=1e-6)
  np.testing.assert_allclose(a.cov, b.cov, rtol=1e-5, atol=1e-7)


def test_too_short_unknown_layer_and_mixed_lengths_are_errors(tiny_network, make_videos):
  """T below network.min_frames (named), an unknown layer, or videos of different lengths: EvalError."""
  with pytest.raises(EvalError, match="at least 4 needed"):
    extract_features(make_videos(2, t=3), tiny_network, "logits", progress=False)
  with pytest.raises(EvalError, match="no layer 'pool5'"):
    extract_features(make_videos(2), tiny_network, "pool5", progress=False)
  with pytest.raises(EvalError, match="different lengths"):
    extract_features([make_videos(1, t=5)[0], make_videos(1, t=6)[0]], tiny_network, "logits", batch_size=1,
                     progress=False)


def test_errors_in_the_decode_thread_reach_the_caller(tiny_network, make_videos):
  """A bad video met by the prefetch thread after good batches raises its EvalError in the caller."""
  good = list(make_videos(5))
  bad = np.full((6, 10, 12, 3), 300.0)
  with pytest.raises(EvalError, match=r"\[0, 255\]"):
    extract_features(good + [bad], tiny_network, "logits", batch_size=2, progress=False)
