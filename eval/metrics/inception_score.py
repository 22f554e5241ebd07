"""Inception Score of a set of videos from classifier logits: exp(E_x KL(p(y|x) || p(y))).

As in TGAN / DVD-GAN (and Salimans et al.), the set is cut into `num_splits` (10) consecutive splits; the
score is computed on each split, with p(y) the mean prediction of that split, and reported as mean +- std
over the splits. p(y|x) is the softmax of the logits, computed in float64.
"""
import numpy as np

from eval.errors import EvalError
from eval.metrics.result import MetricResult
from eval.stats import FeatureStats


def _log_softmax(logits: np.ndarray) -> np.ndarray:
  z = logits - logits.max(axis=1, keepdims=True)
  return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def inception_score(logits, num_splits: int = 10) -> tuple[float, float]:
  """(mean, std) of the Inception Score over `num_splits` consecutive splits of `logits` [N, C]."""
  scores = inception_score_splits(logits, num_splits)
  return float(np.mean(scores)), float(np.std(scores))


def inception_score_splits(logits, num_splits: int = 10) -> np.ndarray:
  """The Inception Score of each of `num_splits` consecutive splits of `logits` [N, C] -> [num_splits]."""
  logits = np.asarray(logits, np.float64)
  n = logits.shape[0]
  if logits.ndim != 2:
    raise EvalError(f"logits must be [N, C], got shape {logits.shape}")
  if num_splits < 1 or n < num_splits:
    raise EvalError(f"the Inception Score over {num_splits} splits needs at least {num_splits} videos, got {n}")
  log_p = _log_softmax(logits)
  scores = []
  for i in range(num_splits):
    part = log_p[i * n // num_splits:(i + 1) * n // num_splits]
    p = np.exp(part)
    log_py = np.log(p.mean(axis=0))
    kl = np.sum(p * (part - log_py), axis=1)
    scores.append(np.exp(kl.mean()))
  return np.array(scores)


def inception_score_metric(fake: FeatureStats, *, num_splits: int = 10) -> MetricResult:
  """IS of the stored logits of `fake` (layer must be logits)."""
  layer = fake.metadata.get("layer")
  if layer not in (None, "logits"):
    raise EvalError(f"the Inception Score needs logits; {fake.metadata.get('source', 'the set')} holds '{layer}'")
  logits = fake.features
  scores = inception_score_splits(logits, num_splits)
  mean = float(np.mean(scores))
  return MetricResult(value=mean, std=float(np.std(scores)), draw_mean=mean, num_fake=fake.num_items,
                      draw_kind=f"{num_splits} splits", draws=scores.tolist())
