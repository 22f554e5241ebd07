"""Kernel Video Distance (KVD): the squared MMD with the cubic polynomial kernel, as KID (Bińkowski et al.)
and KVD (Unterthiner et al. 2018) compute it on I3D features.

k(x, y) = (x . y / D + 1)^3; the unbiased estimator of MMD^2 is computed on `num_subsets` random subsets of
`subset_size` real and fake videos (default min(1000, N_real, N_fake)) and reported as mean +- std over
subsets. Needs the features of both sets (stats files with stored features).
"""
import numpy as np

from eval.errors import EvalError
from eval.metrics.result import MetricResult
from eval.stats import FeatureStats, check_comparable


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """(x y^T / D + 1)^3 for x [N, D], y [M, D] -> [N, M], float64."""
  return (x @ y.T / x.shape[1] + 1) ** 3


def mmd2_unbiased(x, y) -> float:
  """Unbiased MMD^2 estimate between samples x [m, D] and y [m', D] with the polynomial kernel."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  m, n = x.shape[0], y.shape[0]
  if m < 2 or n < 2:
    raise EvalError(f"the kernel distance needs at least 2 videos per set, got {m} and {n}")
  kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
  return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
               - 2 * kxy.mean())


def kernel_distance(real, fake, *, num_subsets: int = 100, subset_size: int | None = None,
                    seed: int = 0) -> tuple[float, float]:
  """(mean, std) of the unbiased MMD^2 over `num_subsets` random subsets (without replacement)."""
  values = kernel_distance_subsets(real, fake, num_subsets=num_subsets, subset_size=subset_size, seed=seed)
  return float(np.mean(values)), float(np.std(values))


def kernel_distance_subsets(real, fake, *, num_subsets: int = 100, subset_size: int | None = None,
                            seed: int = 0) -> np.ndarray:
  """Unbiased MMD^2 of real [N, D] vs fake [M, D] on each of `num_subsets` random subsets -> [num_subsets]."""
  real, fake = np.asarray(real), np.asarray(fake)
  size = min(1000, real.shape[0], fake.shape[0]) if subset_size is None else int(subset_size)
  if size < 2 or size > min(real.shape[0], fake.shape[0]):
    raise EvalError(f"subset_size {size} must be between 2 and the size of the smaller set "
                    f"({min(real.shape[0], fake.shape[0])})")
  rng = np.random.default_rng(seed)
  return np.array([mmd2_unbiased(real[rng.choice(real.shape[0], size, replace=False)],
                                 fake[rng.choice(fake.shape[0], size, replace=False)])
                   for _ in range(num_subsets)])


def kernel_distance_metric(real: FeatureStats, fake: FeatureStats, *, num_subsets: int = 100,
                           subset_size: int | None = None, seed: int = 0) -> MetricResult:
  check_comparable(real, fake)
  values = kernel_distance_subsets(real.features, fake.features, num_subsets=num_subsets,
                                   subset_size=subset_size, seed=seed)
  mean = float(np.mean(values))
  return MetricResult(value=mean, std=float(np.std(values)), draw_mean=mean, num_real=real.num_items,
                      num_fake=fake.num_items, draw_kind=f"{num_subsets} random subsets", draws=values.tolist())
