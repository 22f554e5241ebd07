"""Precision, recall, density and coverage: fidelity and diversity of generated videos, measured apart.

Both are defined on k-nearest-neighbour manifolds of feature vectors. For a set X, the ball around x in X
has radius r_k(x) = the distance from x to its k-th nearest neighbour in X (x itself not counted).

- precision (Kynkäänniemi et al. 2019): the fraction of fake videos inside the union of the real balls;
- recall (idem): the fraction of real videos inside the union of the fake balls;
- density (Naeem et al. 2020): (1/k) x the mean over fake videos of the number of real balls holding it;
- coverage (idem): the fraction of real videos whose own ball holds at least one fake video.

"Inside" is a strict `<` (clovaai/generative-evaluation-prdc). Precision and density are about fidelity
(are the samples realistic?), recall and coverage about diversity (is all of the real data reached?).

Distances are Euclidean, computed in float64 in row blocks of `block_size` ([block_size, N] at a time, as
||a||^2 + ||b||^2 - 2 a.b), so 10,000 x 10,000 videos take a few hundred MB instead of the 800 MB of one
full distance matrix per pair of sets (and its temporaries).
"""
import numpy as np

from eval.errors import EvalError
from eval.metrics.result import MetricResult
from eval.stats import FeatureStats, check_comparable

NAMES = ("precision", "recall", "density", "coverage")
DEFAULT_K = 5
DEFAULT_BLOCK = 1024


def _blocks(n: int, block_size: int):
  for start in range(0, n, block_size):
    yield slice(start, min(n, start + block_size))


def _distances(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
  """Euclidean distances [len(a), len(b)] (float64; negative rounding clipped to 0)."""
  d2 = np.sum(a * a, axis=1)[:, None] + b_sq[None, :] - 2 * (a @ b.T)
  np.maximum(d2, 0, out=d2)
  return np.sqrt(d2, out=d2)


def knn_radii(x, k: int, block_size: int = DEFAULT_BLOCK) -> np.ndarray:
  """r_k(x_i) for every row of x [N, D]: the distance to its k-th nearest other row -> [N] float64."""
  x = np.asarray(x, np.float64)
  n = x.shape[0]
  if not 1 <= k < n:
    raise EvalError(f"k = {k} nearest neighbours need more than k videos per set (got {n})")
  sq = np.sum(x * x, axis=1)
  radii = np.empty(n, np.float64)
  for rows in _blocks(n, block_size):
    d = _distances(x[rows], x, sq)
    d[np.arange(d.shape[0]), np.arange(rows.start, rows.stop)] = -1.0  # itself: always the 0-th, never counted
    radii[rows] = np.partition(d, k, axis=1)[:, k]
  return radii


def prdc(real, fake, k: int = DEFAULT_K, block_size: int = DEFAULT_BLOCK) -> dict:
  """{"precision", "recall", "density", "coverage"} of fake [M, D] against real [N, D] (float64 features).

  One pass over the real-real, fake-fake and fake-real distances, `block_size` rows at a time: peak memory
  about 3 x block_size x max(N, M) x 8 bytes beyond the features themselves.
  """
  real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
  if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
    raise EvalError(f"features must be [N, D] with the same D, got {real.shape} and {fake.shape}")
  block_size = max(1, int(block_size))
  r_real = knn_radii(real, k, block_size)
  r_fake = knn_radii(fake, k, block_size)
  real_sq = np.sum(real * real, axis=1)
  in_real_balls = np.zeros(fake.shape[0], np.int64)  # per fake video: how many real balls hold it
  real_reached = np.zeros(real.shape[0], bool)       # per real video: inside some fake ball (recall)
  nearest_fake = np.full(real.shape[0], np.inf)      # per real video: distance to its nearest fake (coverage)
  for rows in _blocks(fake.shape[0], block_size):
    d = _distances(fake[rows], real, real_sq)        # [b, N]
    in_real_balls[rows] = np.sum(d < r_real[None, :], axis=1)
    real_reached |= np.any(d < r_fake[rows, None], axis=0)
    np.minimum(nearest_fake, d.min(axis=0), out=nearest_fake)
  return {"precision": float(np.mean(in_real_balls > 0)),
          "recall": float(np.mean(real_reached)),
          "density": float(np.mean(in_real_balls) / k),
          "coverage": float(np.mean(nearest_fake < r_real))}


def prdc_metric(real: FeatureStats, fake: FeatureStats, *, k: int = DEFAULT_K,
                block_size: int = DEFAULT_BLOCK) -> MetricResult:
  """`prdc` of two sets' stored features, as a MetricResult whose `components` are the four figures."""
  check_comparable(real, fake)
  figures = prdc(real.features, fake.features, k=k, block_size=block_size)
  return MetricResult(value=figures["precision"], num_real=real.num_items, num_fake=fake.num_items,
                      components=figures, note=f"k = {k} nearest neighbours, {real.metadata.get('layer')} features")
