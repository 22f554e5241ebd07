"""A run scored under demo_fvd_pr: precision, recall, density, coverage and the intra-FVD from the generated set's
class labels (the classes the generator was asked for) against the real videos' labels."""
import dataclasses

import pytest

from dvd_gan.evaluation import protocols as run_protocols
from dvd_gan.evaluation.scorer import GeneratorScorer, latents
from dvd_gan.models.build import build_models
from dvd_gan.training.loop import resolve_config
from eval import api, scoring
from eval.errors import EvalError
from eval.protocols import get_protocol
from tests.eval.conftest import TinyNetwork


@pytest.fixture
def tiny_features(monkeypatch):
  net = TinyNetwork()
  monkeypatch.setattr(api, "get_feature_network", lambda name, weights=None: net)
  return net


def test_demo_fvd_pr_logs_precision_recall_and_intra_fvd(tmp_path, tiny_config, tiny_features):
  """The protocol's figures (with 16 fake and 24 real videos here) are the FVD, the four PRDC figures
  (precision, recall, coverage in [0, 1]) and the intra-FVD; the fake features carry the classes y of the
  scorer's latents, the real ones the synthetic videos' labels; an unconditional run is refused."""
  c = resolve_config(tiny_config())
  c.eval.batch_size = 8
  generator = build_models(c)[0]
  scorer = GeneratorScorer(c, stats_dir=str(tmp_path / "stats"), log=lambda s: None)
  p = dataclasses.replace(get_protocol("demo_fvd_pr"), num_fake=16, num_real=24)
  fake, real = scorer.fake_features(generator, p), scorer.real_stats(p)
  result = scoring.score_features(p, fake, real)
  values = result.values()
  assert set(values) == {f"demo_fvd_pr/{k}" for k in ("fvd", "precision", "recall", "density", "coverage",
                                                      "intra_fvd")}
  assert all(0 <= values[f"demo_fvd_pr/{k}"] <= 1 for k in ("precision", "recall", "coverage"))
  y = latents(c, 16, scorer.seed)[1].numpy()
  assert fake["logits"].labels.tolist() == [str(v) for v in y]
  assert real.has_features and real.labels is not None and len(set(real.labels.tolist())) > 1
  assert any(line.startswith("class ") for line in result.lines())
  assert run_protocols.higher_is_better("demo_fvd_pr/recall") and not run_protocols.higher_is_better(
      "demo_fvd_pr/intra_fvd")
  c.num_classes = 0
  with pytest.raises(EvalError, match="not class-conditional"):
    run_protocols.check_protocol(c, "demo_fvd_pr")
