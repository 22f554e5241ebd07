"""The command line: figures on the last line, statistics files, shards, and one-line errors with exit 2."""
import json
import os
import re

import numpy as np
import pytest

import eval as video_eval
from eval.stats import FeatureStats


@pytest.fixture
def sets(tmp_path, make_videos):
  """Two directories of .npy videos: real (12 videos, 2 files) and fake (9 videos)."""
  real, fake = make_videos(12, seed=1), make_videos(9, seed=2)
  (tmp_path / "real").mkdir()
  (tmp_path / "fake").mkdir()
  np.save(tmp_path / "real" / "a.npy", real[:5])
  np.save(tmp_path / "real" / "b.npy", real[5:])
  for i, v in enumerate(fake):
    np.save(tmp_path / "fake" / f"{i}.npy", v)
  return tmp_path, real, fake


def _figure(lines, label):
  assert re.fullmatch(rf"{label}: -?[0-9]+\.[0-9]+", lines[-1]), lines
  return float(lines[-1].split(": ")[1])


def test_fvd_prints_figure_on_last_line_and_writes_json(run, sets, tiny_network):
  """`fvd` of two directories prints `FVD: x` last, equal to eval.compute_fvd on the arrays; --json records
  the figure, the std over draws and the metadata of both sets."""
  tmp, real, fake = sets
  code, lines, _ = run("fvd", f"--real={tmp / 'real'}", f"--fake={tmp / 'fake'}", f"--json={tmp / 'r.json'}")
  assert code == 0
  expected = video_eval.compute_fvd(real, fake, network=tiny_network)
  assert _figure(lines, "FVD") == pytest.approx(expected, abs=1e-4)
  record = json.loads((tmp / "r.json").read_text())
  assert record["metric"] == "FVD" and record["num_real"] == 12 and record["num_fake"] == 9
  assert record["num_draws"] == 10 and record["std"] > 0
  assert record["real"]["frames"] == 6 and record["fake"]["network"] == "i3d-kinetics-400"


def test_stats_file_gives_the_same_fvd_as_videos(run, sets):
  """FVD with the real set given as a statistics file equals FVD with the real videos."""
  tmp, _, _ = sets
  code, lines, _ = run("stats", f"--videos={tmp / 'real'}", f"--out={tmp / 's.npz'}", "--dataset=toy")
  assert code == 0 and FeatureStats.load(str(tmp / "s.npz")).metadata["dataset"] == "toy"
  from_stats = _figure(run("fvd", f"--real={tmp / 's.npz'}", f"--fake={tmp / 'fake'}")[1], "FVD")
  from_videos = _figure(run("fvd", f"--real={tmp / 'real'}", f"--fake={tmp / 'fake'}")[1], "FVD")
  assert from_stats == from_videos


def test_sharded_stats_merge_into_the_whole(run, sets):
  """Statistics of 3 shards (every 3rd video) merged with `merge` equal the statistics of all videos."""
  tmp, _, _ = sets
  for i in range(3):
    assert run("stats", f"--videos={tmp / 'real'}", f"--out={tmp / f's{i}.npz'}", f"--shard_index={i}",
               "--num_shards=3")[0] == 0
  assert run("stats", f"--videos={tmp / 'real'}", f"--out={tmp / 'all.npz'}")[0] == 0
  assert run("merge", f"--out={tmp / 'm.npz'}", *[str(tmp / f"s{i}.npz") for i in range(3)])[0] == 0
  merged, whole = FeatureStats.load(str(tmp / "m.npz")), FeatureStats.load(str(tmp / "all.npz"))
  assert merged.num_items == whole.num_items == 12
  np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-12)
  np.testing.assert_allclose(merged.cov, whole.cov, rtol=1e-9, atol=1e-12)


def test_is_and_kvd_from_features_files(run, sets, tiny_network):
  """`features` files feed `is` and `kvd`: `is --fake` equals eval.compute_is on the fake arrays (and
  `--videos`, its alias, gives the same); with `--real` the real set's IS is printed and put in the JSON."""
  tmp, real, fake = sets
  assert run("features", f"--videos={tmp / 'fake'}", f"--out={tmp / 'f.npz'}", "--layer=logits")[0] == 0
  assert run("features", f"--videos={tmp / 'real'}", f"--out={tmp / 'r.npz'}")[0] == 0
  code, lines, _ = run("is", f"--fake={tmp / 'f.npz'}", f"--real={tmp / 'r.npz'}", "--splits=3",
                       f"--json={tmp / 'is.json'}")
  assert code == 0
  assert _figure(lines, "IS") == pytest.approx(video_eval.compute_is(fake, network=tiny_network, splits=3),
                                               abs=1e-4)
  real_is = video_eval.compute_is(real, network=tiny_network, splits=3)
  assert any(line.startswith("IS of the real videos") and f"{real_is:.4f}" in line for line in lines), lines
  record = json.loads((tmp / "is.json").read_text())
  assert record["real_result"]["value"] == pytest.approx(real_is, rel=1e-9) and record["num_fake"] == 9
  assert _figure(run("is", f"--videos={tmp / 'f.npz'}", "--splits=3")[1], "IS") == _figure(lines, "IS")
  code, lines, _ = run("kvd", f"--real={tmp / 'r.npz'}", f"--fake={tmp / 'f.npz'}", "--num_subsets=4")
  assert code == 0 and np.isfinite(_figure(lines, "KVD"))


def _assert_one_line_error(code, err, match, tmp, before):
  assert code == 2
  assert len(err.splitlines()) == 1 and err.startswith("error: ") and re.search(match, err), err
  assert sorted(os.listdir(tmp)) == before  # no output file, no temporary left behind


def test_bad_input_gives_one_line_error_and_no_output(run, sets, make_videos):
  """Empty directory, too few videos for a covariance, mismatched statistics, stats without features for IS,
  an unknown flag and a missing required flag: `error: ...` on one line, exit 2, no file written."""
  tmp, _, _ = sets
  (tmp / "empty").mkdir()
  (tmp / "one").mkdir()
  np.save(tmp / "one" / "v.npy", make_videos(1)[0])
  (tmp / "short").mkdir()
  np.save(tmp / "short" / "v.npy", make_videos(3, t=5))
  assert run("stats", f"--videos={tmp / 'real'}", f"--out={tmp / 'six.npz'}")[0] == 0
  assert run("stats", f"--videos={tmp / 'short'}", f"--out={tmp / 'five.npz'}")[0] == 0
  before = sorted(os.listdir(tmp))
  cases = [
      (("stats", f"--videos={tmp / 'empty'}", f"--out={tmp / 'x.npz'}"), "empty"),
      (("fvd", f"--real={tmp / 'real'}", f"--fake={tmp / 'one'}", f"--json={tmp / 'x.json'}"), "at least 2"),
      (("fvd", f"--real={tmp / 'six.npz'}", f"--fake={tmp / 'five.npz'}", f"--json={tmp / 'x.json'}"),
       "frames 6 vs 5"),
      (("is", f"--fake={tmp / 'six.npz'}"), "no per-video features"),
      (("fvd", "--real=a", "--fake=b", "--bogus=1"), "bogus"),
      (("fvd", f"--real={tmp / 'real'}"), "--fake is required"),
      (("fvd", f"--real={tmp / 'real'}", f"--fake={tmp / 'fake'}", "--layer=avgpool"), "logits"),
  ]
  for args, match in cases:
    code, _, err = run(*args)
    _assert_one_line_error(code, err, match, tmp, before)
