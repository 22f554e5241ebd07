"""Fréchet distance between two Gaussians fitted to features: FVD (I3D logits) and FID (I3D avgpool).

d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)), in float64 with unbiased covariances, as
TF-GAN's `frechet_classifier_distance_from_activations` (used by google-research/frechet_video_distance).
The trace of the matrix square root is computed as tr((S1^(1/2) S2 S1^(1/2))^(1/2)), a symmetric positive
semi-definite matrix, from eigenvalues (TF-GAN does the same with an SVD): no complex parts, stable for the
singular covariances of fewer videos than feature dimensions.

Uncertainty: the figure is computed on all videos. When the fake features are available, it is recomputed
on `draws` resamplings of the fake set against the full real statistics: bootstrap resamples (with
replacement, same size) by default, or random subsets without replacement of `subset_size` videos. The
standard deviation over draws is the +- reported next to the figure.
"""
import numpy as np

from eval.errors import EvalError
from eval.metrics.result import MetricResult
from eval.stats import FeatureStats, check_comparable


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
  """Square root of a symmetric positive semi-definite matrix [D, D] (negative rounding noise clipped)."""
  w, v = np.linalg.eigh(matrix)
  return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
  """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); mu [D], sigma [D, D]; float64."""
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
  if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
    raise EvalError(f"mean/covariance shapes disagree: {mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}")
  sqrt1 = _sqrt_psd(sigma1)
  inner = sqrt1 @ sigma2 @ sqrt1
  eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2)
  trace_sqrt_product = np.sum(np.sqrt(np.clip(eigenvalues, 0, None)))
  diff = mu1 - mu2
  return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product)


def _cov(features: np.ndarray) -> np.ndarray:
  return np.cov(features.astype(np.float64), rowvar=False)


def frechet_metric(real: FeatureStats, fake: FeatureStats, *, draws: int = 10, subset_size: int | None = None,
                   seed: int = 0) -> MetricResult:
  """Fréchet distance of the fake statistics to the real ones, with mean/std over `draws` resamplings.

  The std is only available when the fake statistics hold their features (else `std` is None).
  """
  check_comparable(real, fake)
  mu_r, sigma_r = real.mean, real.cov
  value = frechet_distance(mu_r, sigma_r, fake.mean, fake.cov)
  result = MetricResult(value=value, num_real=real.num_items, num_fake=fake.num_items)
  if draws and draws > 1 and fake.has_features:
    feats = fake.features
    n = feats.shape[0]
    size = n if subset_size is None else int(subset_size)
    if size < 2 or size > n:
      raise EvalError(f"subset_size must be between 2 and the number of fake videos ({n}), got {size}")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
      idx = rng.choice(n, size=size, replace=subset_size is None)
      sub = feats[idx].astype(np.float64)
      values.append(frechet_distance(mu_r, sigma_r, sub.mean(axis=0), _cov(sub)))
    result.draws = values
    result.std = float(np.std(values))
    result.draw_mean = float(np.mean(values))
    result.draw_kind = "bootstrap" if subset_size is None else f"subsets of {size} without replacement"
  return result
