"""Streaming statistics: one-shot equality, exact shard merge, statistics files and their metadata checks."""
import os

import numpy as np
import pytest

from eval.errors import EvalError
from eval.stats import FeatureStats, check_comparable, is_stats_file

META = {"network": "i3d-kinetics-400", "layer": "logits", "frames": 16, "weights_sha256": "ab" * 32}


def _features(n=97, d=12, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.normal(size=(n, d)) * 3 + 5).astype(np.float32)


def test_streaming_statistics_equal_one_shot_statistics():
  """Mean and unbiased covariance accumulated in uneven batches equal numpy's on all features at once."""
  x = _features()
  stats = FeatureStats()
  for start in range(0, len(x), 10):
    stats.append(x[start:start + 10])
  x64 = x.astype(np.float64)
  np.testing.assert_allclose(stats.mean, x64.mean(0), rtol=1e-12)
  np.testing.assert_allclose(stats.cov, np.cov(x64, rowvar=False), rtol=1e-9, atol=1e-12)
  assert stats.num_items == len(x)


def test_merged_shards_equal_one_shot_statistics():
  """Statistics of 3 shards merged equal those of the whole set; features concatenate in shard order."""
  x = _features()
  whole = FeatureStats(store_features=True, metadata=META)
  whole.append(x)
  shards = [FeatureStats(store_features=True, metadata=META) for _ in range(3)]
  for shard, part in zip(shards, np.array_split(x, 3)):
    shard.append(part)
  merged = shards[0].merge(shards[1]).merge(shards[2])
  np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-13)
  np.testing.assert_allclose(merged.cov, whole.cov, rtol=1e-10, atol=1e-13)
  np.testing.assert_array_equal(merged.features, x)
  assert merged.metadata["num_videos"] == len(x)


def test_statistics_file_round_trip_without_pickle(tmp_path):
  """save/load keeps sums, features and metadata; the file loads with allow_pickle=False."""
  stats = FeatureStats(store_features=True, metadata=META)
  stats.append(_features())
  path = str(tmp_path / "s.npz")
  stats.save(path)
  assert is_stats_file(path) and os.listdir(tmp_path) == ["s.npz"]
  with np.load(path, allow_pickle=False) as data:
    np.testing.assert_allclose(data["sigma"], stats.cov)
  loaded = FeatureStats.load(path)
  np.testing.assert_array_equal(loaded.mean, stats.mean)
  np.testing.assert_array_equal(loaded.cov, stats.cov)
  np.testing.assert_array_equal(loaded.features, stats.features)
  assert {k: loaded.metadata[k] for k in META} == META


def test_mismatched_statistics_are_an_error(tmp_path):
  """Statistics that disagree on network, layer or frames cannot be compared or merged."""
  for key, value in (("network", "c3d-ucf101"), ("layer", "avgpool"), ("frames", 12)):
    a, b = FeatureStats(metadata=META), FeatureStats(metadata={**META, key: value})
    a.append(_features(5))
    b.append(_features(5))
    with pytest.raises(EvalError, match=key):
      check_comparable(a, b)
    with pytest.raises(EvalError, match=key):
      a.merge(b)


def test_non_statistics_files_are_rejected(tmp_path):
  """Loading an .npz of videos, or a corrupt file, as statistics is a one-line EvalError."""
  videos = str(tmp_path / "v.npz")
  np.savez(videos, x=np.zeros((2, 3)))
  corrupt = tmp_path / "c.npz"
  corrupt.write_bytes(b"not a zip")
  assert not is_stats_file(videos)
  with pytest.raises(EvalError, match="not a statistics file"):
    FeatureStats.load(videos)
  with pytest.raises(EvalError, match="cannot read"):
    FeatureStats.load(str(corrupt))


def test_failed_save_leaves_no_file(tmp_path):
  """A save that fails mid-way (unjsonable metadata) leaves neither the file nor a temporary behind."""
  stats = FeatureStats(metadata={"bad": object()})
  stats.append(_features(4))
  with pytest.raises(TypeError):
    stats.save(str(tmp_path / "s.npz"))
  assert os.listdir(tmp_path) == []
