"""FVD_inf / FID_inf (Chong and Forsyth 2020): the Fréchet distance without its finite-sample bias.

The Fréchet distance of N fake videos is biased upwards, and the bias falls as 1/N (to first order), by an
amount that depends on the generator: two models compared at one N can swap places at another. Following
Chong and Forsyth, the distance is computed on random subsets of the fake set at several sizes N_i (evenly
spaced from `min_size` to all of them; each against the full real statistics), a least-squares line
value = intercept + slope / N is fitted to the points, and its intercept, the value at N = infinity, is the
figure. Only the fake side's bias is removed: the real statistics enter every point unchanged. The bias is
linear in 1/N only for N well above the feature dimension (400 logits, 1024 avgpool): a warning row says so
when the smallest subset is not above twice the dimension.
"""
import numpy as np

from eval.errors import EvalError
from eval.metrics.frechet import frechet_distance
from eval.metrics.result import MetricResult
from eval.stats import FeatureStats, check_comparable

DEFAULT_POINTS = 15


def fit_inverse_n(sizes, values) -> tuple[float, float]:
  """(intercept, slope) of the least-squares line values = intercept + slope / sizes."""
  sizes, values = np.asarray(sizes, np.float64), np.asarray(values, np.float64)
  if sizes.shape != values.shape or len(np.unique(sizes)) < 2:
    raise EvalError(f"the line in 1/N needs at least 2 different subset sizes, got {sizes.tolist()}")
  slope, intercept = np.polyfit(1.0 / sizes, values, 1)
  return float(intercept), float(slope)


def subset_sizes(num_fake: int, num_points: int = DEFAULT_POINTS, min_size: int | None = None) -> list:
  """`num_points` sizes evenly spaced from `min_size` (default num_fake // 10, as the paper's 5,000 of
  50,000) to num_fake, without repeats."""
  low = max(2, num_fake // 10) if min_size is None else int(min_size)
  if not 2 <= low < num_fake:
    raise EvalError(f"the smallest subset size must be between 2 and {num_fake - 1} (the fake videos less "
                    f"one), got {low}")
  if num_points < 2:
    raise EvalError(f"at least 2 subset sizes are needed for a line, got num_points={num_points}")
  return sorted({int(round(s)) for s in np.linspace(low, num_fake, num_points)})


def frechet_at_sizes(mu, sigma, fake, sizes, *, draws: int = 1, seed: int = 0) -> list:
  """[{"size": N, "value": mean, "draws": [...]}] of the Fréchet distance between N(mu, sigma) and random
  subsets (without replacement) of N rows of fake [M, D], `draws` subsets per size."""
  fake = np.asarray(fake, np.float64)
  rng = np.random.default_rng(seed)
  points = []
  for size in sizes:
    values = []
    for _ in range(max(1, int(draws))):
      sub = fake[rng.choice(fake.shape[0], size=int(size), replace=False)]
      values.append(frechet_distance(mu, sigma, sub.mean(axis=0), np.cov(sub, rowvar=False)))
    points.append({"size": int(size), "value": float(np.mean(values)), "draws": values})
  return points


def frechet_inf(mu, sigma, fake, *, sizes=None, num_points: int = DEFAULT_POINTS, min_size: int | None = None,
                draws: int = 1, seed: int = 0) -> dict:
  """{"value": the extrapolated distance, "slope", "points"} of fake [M, D] against N(mu, sigma)."""
  fake = np.asarray(fake, np.float64)
  sizes = subset_sizes(fake.shape[0], num_points, min_size) if sizes is None else sorted(int(s) for s in sizes)
  points = frechet_at_sizes(mu, sigma, fake, sizes, draws=draws, seed=seed)
  intercept, slope = fit_inverse_n([p["size"] for p in points], [p["value"] for p in points])
  return {"value": intercept, "slope": slope, "points": points}


def frechet_inf_metric(real: FeatureStats, fake: FeatureStats, *, num_points: int = DEFAULT_POINTS,
                       min_size: int | None = None, draws: int = 1, seed: int = 0) -> MetricResult:
  """FVD_inf / FID_inf of the fake set's stored features against the real statistics."""
  check_comparable(real, fake)
  out = frechet_inf(real.mean, real.cov, fake.features, num_points=num_points, min_size=min_size, draws=draws,
                    seed=seed)
  points = out["points"]
  rows = [f"N = {p['size']}: {p['value']:.4f}" for p in points]
  rows.append(f"fit: {out['value']:.4f} + {out['slope']:.4f} / N")
  if points[0]["size"] <= 2 * fake.dim:
    rows.append(f"warning: the smallest subset ({points[0]['size']} videos) is not well above the {fake.dim} "
                "feature dimensions, where the bias is not yet linear in 1/N: raise --min_size")
  return MetricResult(value=out["value"], num_real=real.num_items, num_fake=fake.num_items, rows=rows,
                      details={"points": points, "slope": out["slope"], "intercept": out["value"]},
                      note=f"line in 1/N through {len(points)} subset sizes, {max(1, int(draws))} draw(s) each")
