"""Inception Score against the textbook formula exp(E_x KL(p(y|x) || p(y))) on fixed arrays."""
import numpy as np
import pytest
import scipy.special
import scipy.stats

from eval.errors import EvalError
from eval.metrics.inception_score import inception_score, inception_score_metric
from eval.stats import FeatureStats


def _textbook(logits, splits):
  """Salimans et al.'s formula with OpenAI's split boundaries: split i is rows [i N / k, (i + 1) N / k)."""
  scores = []
  n = len(logits)
  for part in (logits[i * n // splits:(i + 1) * n // splits] for i in range(splits)):
    p = scipy.special.softmax(part, axis=1)
    py = p.mean(axis=0)
    scores.append(np.exp(np.mean([scipy.stats.entropy(px, py) for px in p])))
  return np.mean(scores), np.std(scores)


@pytest.mark.parametrize("n,c,splits", [(100, 7, 10), (53, 400, 4), (20, 3, 1)])
def test_inception_score_matches_textbook_formula(n, c, splits):
  """Mean and std over splits equal the scipy entropy-based formula to 1e-6 relative."""
  logits = np.random.default_rng(n).normal(size=(n, c)) * 4
  got = inception_score(logits, splits)
  np.testing.assert_allclose(got, _textbook(logits, splits), rtol=1e-6)


def test_inception_score_bounds():
  """Confident, uniformly spread predictions give IS = number of classes; identical predictions give 1."""
  c = 8
  confident = np.eye(c)[np.arange(80) % c] * 60.0
  assert inception_score(confident, 1)[0] == pytest.approx(c, rel=1e-6)
  assert inception_score(np.tile(np.arange(c, dtype=float), (40, 1)), 2)[0] == pytest.approx(1.0, abs=1e-9)


def test_inception_score_metric_requires_logits_and_enough_videos():
  """IS of avgpool features, or of fewer videos than splits, is an EvalError."""
  stats = FeatureStats(store_features=True, metadata={"layer": "avgpool"})
  stats.append(np.zeros((20, 4)))
  with pytest.raises(EvalError, match="logits"):
    inception_score_metric(stats)
  with pytest.raises(EvalError, match="at least 10 videos"):
    inception_score(np.zeros((5, 3)), 10)


def test_inception_score_metric_needs_stored_features():
  """Statistics without features cannot give an IS: the error says how to get them."""
  stats = FeatureStats(metadata={"layer": "logits"})
  stats.append(np.zeros((20, 4)))
  with pytest.raises(EvalError, match="store_features"):
    inception_score_metric(stats)
