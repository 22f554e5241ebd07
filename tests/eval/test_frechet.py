"""Fréchet distance (FVD/FID) against an independent reference: the scipy.linalg.sqrtm formula."""
import numpy as np
import pytest
import scipy.linalg

from eval.errors import EvalError
from eval.metrics.frechet import frechet_distance, frechet_metric
from eval.stats import FeatureStats


def _reference(a, b):
  """Textbook formula: ||mu1-mu2||^2 + tr(S1 + S2 - 2 sqrtm(S1 S2)), unbiased covariances."""
  m1, m2 = a.mean(0), b.mean(0)
  s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  covmean = scipy.linalg.sqrtm(s1 @ s2).real
  return float(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("n,d", [(300, 16), (64, 40)])
def test_frechet_distance_matches_scipy_sqrtm_formula(n, d):
  """frechet_distance equals the scipy sqrtm formula to 1e-6 relative (full-rank and N < D cases aside)."""
  rng = np.random.default_rng(1)
  a = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
  b = rng.normal(size=(n + 7, d)) @ rng.normal(size=(d, d)) * 0.7 + 0.5
  got = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
  np.testing.assert_allclose(got, _reference(a, b), rtol=1e-6)


def test_frechet_distance_of_identical_gaussians_is_zero_and_symmetric():
  """d(P, P) = 0 and d(P, Q) = d(Q, P)."""
  rng = np.random.default_rng(2)
  a, b = rng.normal(size=(100, 6)), rng.normal(size=(80, 6)) + 1
  ma, sa, mb, sb = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
  assert abs(frechet_distance(ma, sa, ma, sa)) < 1e-9
  np.testing.assert_allclose(frechet_distance(ma, sa, mb, sb), frechet_distance(mb, sb, ma, sa), rtol=1e-9)


def test_frechet_distance_with_zero_covariances_is_squared_mean_distance():
  """Identical videos in each set (the FVD self-check setup): the distance is ||mu1 - mu2||^2."""
  mu1, mu2 = np.arange(5.0), np.arange(5.0)[::-1]
  zero = np.zeros((5, 5))
  np.testing.assert_allclose(frechet_distance(mu1, zero, mu2, zero), np.sum((mu1 - mu2) ** 2), rtol=1e-12)


def test_frechet_metric_uses_float64_statistics_and_reports_draws():
  """frechet_metric on FeatureStats equals the reference; with stored features, std over draws is reported."""
  rng = np.random.default_rng(3)
  a = rng.normal(size=(120, 10)).astype(np.float32)
  b = (rng.normal(size=(90, 10)) * 1.3 + 0.2).astype(np.float32)
  real, fake = FeatureStats(), FeatureStats(store_features=True)
  real.append(a)
  fake.append(b)
  result = frechet_metric(real, fake, draws=5, seed=0)
  np.testing.assert_allclose(result.value, _reference(a.astype(np.float64), b.astype(np.float64)), rtol=1e-6)
  assert len(result.draws) == 5 and result.std > 0 and result.num_real == 120 and result.num_fake == 90
  again = frechet_metric(real, fake, draws=5, seed=0)
  assert again.draws == result.draws  # seeded


def test_frechet_metric_rejects_too_few_videos_for_a_covariance():
  """One video cannot give a covariance: EvalError naming the count."""
  real, fake = FeatureStats(), FeatureStats()
  real.append(np.zeros((1, 4)))
  fake.append(np.ones((5, 4)))
  with pytest.raises(EvalError, match="at least 2"):
    frechet_metric(real, fake)
