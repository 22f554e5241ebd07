"""FVD_inf (Chong and Forsyth 2020) on Gaussian features whose Fréchet distance is known in closed form.

Real: N(0, I) given exactly (mean and covariance); fake: 20,000 samples of N(m, diag(s)). The true distance
is ||m||^2 + sum_i (1 - sqrt(s_i))^2. The distance of N fake samples is biased upwards by about c / N; the
line in 1/N removes it.
"""
import json

import numpy as np
import pytest

from eval import cli
from eval.metrics import extrapolation
from eval.stats import FeatureStats

D = 16


def _gaussians(seed):
  s = np.random.default_rng(0).uniform(0.4, 2.5, D)
  m = np.full(D, 0.5)
  truth = float(m @ m + np.sum((1 - np.sqrt(s)) ** 2))
  fake = np.random.default_rng(seed).normal(size=(20_000, D)) * np.sqrt(s) + m
  return truth, fake


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fvd_inf_removes_the_sample_size_bias(seed):
  """FVD_inf within 2% of the closed-form distance, where the figure at the smallest N (60 videos) is off by
  more than 10%: 15 sizes from 60 to 20,000, 5 subsets each."""
  truth, fake = _gaussians(seed)
  out = extrapolation.frechet_inf(np.zeros(D), np.eye(D), fake, num_points=15, min_size=60, draws=5, seed=seed)
  smallest = out["points"][0]
  assert smallest["size"] == 60 and len(out["points"]) == 15
  assert abs(smallest["value"] - truth) / truth > 0.10
  assert abs(out["value"] - truth) / truth < 0.02
  assert out["slope"] > 0  # the bias is upwards


def test_fit_inverse_n_recovers_an_exact_line():
  sizes = np.array([10, 20, 50, 100])
  intercept, slope = extrapolation.fit_inverse_n(sizes, 3.0 + 40.0 / sizes)
  assert intercept == pytest.approx(3.0) and slope == pytest.approx(40.0)


def test_subset_sizes_default_from_a_tenth_to_all():
  sizes = extrapolation.subset_sizes(1000, 10)
  assert sizes[0] == 100 and sizes[-1] == 1000 and len(sizes) == 10


def _stats_file(path, features):
  stats = FeatureStats(store_features=True, metadata={"network": "i3d-kinetics-400", "layer": "logits",
                                                      "frames": 16})
  stats.append(features)
  stats.save(str(path))
  return str(path)


def test_fvd_inf_command(tmp_path, capsys):
  """`python -m eval fvd_inf`: one row per subset size and the fit, last line `FVD_inf: x` equal to the
  library's figure; --json holds every fitted point."""
  rng = np.random.default_rng(5)
  real = _stats_file(tmp_path / "r.npz", rng.normal(size=(3000, 4)))
  fake_features = rng.normal(size=(1000, 4)) + 0.3
  fake = _stats_file(tmp_path / "f.npz", fake_features)
  out = tmp_path / "inf.json"
  assert cli.main(["eval", "fvd_inf", f"--real={real}", f"--fake={fake}", "--num_points=5", "--draws=2",
                   f"--json={out}"]) == 0
  lines = capsys.readouterr().out.strip().splitlines()
  record = json.loads(out.read_text())
  assert lines[-1] == f"FVD_inf: {record['value']:.4f}"
  assert [p["size"] for p in record["details"]["points"]] == [100, 325, 550, 775, 1000]
  assert sum(line.startswith("N = ") for line in lines) == 5
  r = FeatureStats.load(real)
  expected = extrapolation.frechet_inf(r.mean, r.cov, FeatureStats.load(fake).features, num_points=5, draws=2)
  assert record["value"] == pytest.approx(expected["value"])


@pytest.mark.parametrize("command, layer", [("fvd_inf", "logits"), ("fid_inf", "avgpool")])
def test_frechet_inf_command_takes_real_statistics_without_features(tmp_path, capsys, command, layer):
  """FVD_inf / FID_inf need only the real set's mean and covariance: a real statistics file written without
  per-video features (`stats` without --store_features) is accepted and gives the figure of the library
  (the fake set's features are still required)."""
  rng = np.random.default_rng(6)
  real = FeatureStats(metadata={"network": "i3d-kinetics-400", "layer": layer, "frames": 16})
  real.append(rng.normal(size=(3000, 4)))
  real.save(str(tmp_path / "r.npz"))
  assert not FeatureStats.load(str(tmp_path / "r.npz")).has_features
  fake = _stats_file(tmp_path / "f.npz", rng.normal(size=(1000, 4)) + 0.3)
  stats = FeatureStats.load(fake)  # the same features under the metric's layer
  stats.metadata["layer"] = layer
  stats.save(fake)
  assert cli.main(["eval", command, f"--real={tmp_path / 'r.npz'}", f"--fake={fake}", "--num_points=5"]) == 0
  last = capsys.readouterr().out.strip().splitlines()[-1]
  r = FeatureStats.load(str(tmp_path / "r.npz"))
  expected = extrapolation.frechet_inf(r.mean, r.cov, FeatureStats.load(fake).features, num_points=5)
  assert last == f"{command.upper().replace('_INF', '_inf')}: {expected['value']:.4f}"
