"""Evaluation during training in the real loop: metrics.jsonl, TensorBoard, the best checkpoint, the collapse
stop, then `python -m dvd_gan.evaluate --checkpoint=best` and the plot; scoring on the replicas.

The loop's figures come from an injected metric function (scripted values, so the rule's behaviour does not
depend on a noisy FVD); at the best step the function also scores the live G_ema for real (demo_fvd with a
tiny stand-in feature network), and `dvd_gan.evaluate --checkpoint=best` must give that same figure.
"""
import dataclasses
import glob
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import evaluate, plot_metrics
from dvd_gan.evaluation.scorer import GeneratorScorer
from dvd_gan.training import loop as loop_lib
from dvd_gan.training.progress import Progress
from dvd_gan.models.build import build_models
from dvd_gan.training.loop import resolve_config, train
from eval import api
from eval.protocols import get_protocol
from tests.eval.conftest import TinyNetwork

SCRIPT = {2: 100.0, 4: 80.0, 6: 90.0, 8: 110.0, 10: 120.0, 12: 50.0}


@pytest.fixture
def tiny_features(monkeypatch):
  """Every feature network is the tiny stand-in (it takes the tiny config's 4-frame videos)."""
  net = TinyNetwork()
  monkeypatch.setattr(api, "get_feature_network", lambda name, weights=None: net)
  return net


def _tags(folder):
  tags = set()
  for path in glob.glob(os.path.join(folder, "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      tags.update(v.tag for v in event.summary.value)
  return tags


class _RecordedProgress(Progress):
  """The loop's Progress, recording its instances and the evaluations it was told of."""
  instances = []

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.evaluations = 0
    _RecordedProgress.instances.append(self)

  def evaluated(self, seconds):
    super().evaluated(seconds)
    self.evaluations += 1


@pytest.mark.slow
def test_loop_best_checkpoint_collapse_and_evaluate(tmp_path, tiny_config, tiny_features, capsys, monkeypatch):
  """Also: one Progress lasts the whole run and hears of every evaluation (its ETA averages them all)."""
  monkeypatch.setattr(loop_lib, "Progress", _RecordedProgress)
  _RecordedProgress.instances.clear()
  c = tiny_config(num_steps=12, checkpoint_every=4, keep_checkpoints=1)
  c.eval.every_steps = 2
  c.eval.protocols = ("demo_fvd",)
  c.eval.stats_dir = str(tmp_path / "stats")
  c.eval.collapse.threshold = 0.25
  c.eval.collapse.patience = 2
  live = {}

  def metric_fn(step, trainer):
    if step == 4:
      scorer = GeneratorScorer(trainer.config, stats_dir=c.eval.stats_dir, log=lambda s: None)
      live["fvd"] = scorer.score(trainer.G_ema, "demo_fvd").values()["demo_fvd/fvd"]
    return {"demo_fvd/fvd": SCRIPT[step]}

  workdir = str(tmp_path / "run")
  result = train(c, workdir, log=lambda s: None, metric_fn=metric_fn)
  # The rule fires at step 10 (110, 120: worse than the best 80 by > 25% twice in a row) and stops the run.
  assert result["stopped_by"] == "collapse" and result["step"] == 10
  assert [p.evaluations for p in _RecordedProgress.instances] == [5]
  records = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [r["step"] for r in records] == [2, 4, 6, 8, 10]
  assert [r["demo_fvd/fvd"] for r in records] == [SCRIPT[s] for s in (2, 4, 6, 8, 10)]
  assert [r["step"] for r in records if r.get("best")] == [2, 4]
  assert [r["step"] for r in records if "collapse" in r] == [10]
  assert all(r["seconds"] >= 0 and np.isfinite(r["d_margin"]) for r in records)
  assert json.load(open(os.path.join(workdir, "best.json"))) == {"step": 4, "metric": "demo_fvd/fvd", "value": 80.0}
  assert sorted(os.path.basename(p) for p in glob.glob(os.path.join(workdir, "checkpoints_best", "*.index"))) == [
      "ckpt-4.index"]
  assert sorted(os.path.basename(p) for p in glob.glob(os.path.join(workdir, "checkpoints", "*.index"))) == [
      "ckpt-10.index"]  # the rolling last-1 deleted steps 4 and 8, not the best one
  assert {"eval/demo_fvd/fvd", "eval/seconds", "eval/d_margin"} <= _tags(os.path.join(workdir, "tensorboard"))

  capsys.readouterr()
  code = evaluate.main(["dvd_gan.evaluate", f"--workdir={workdir}", "--checkpoint=best", "--noprogress",
                        f"--json={tmp_path / 'eval.json'}"])
  out, err = capsys.readouterr()
  assert code == 0, err
  lines = out.strip().splitlines()
  assert lines[0].startswith("checkpoint: best, step 4")
  assert lines[-1].startswith("demo_fvd/fvd: ")
  assert float(lines[-1].split(": ")[1]) == pytest.approx(live["fvd"], rel=1e-4)
  assert any(line.startswith("| synthetic 4 / 16x16 | 4 | ") for line in lines)
  assert json.load(open(tmp_path / "eval.json"))["step"] == 4
  # A protocol with precision and recall: their lines, each in [0, 1], among the last lines.
  code = evaluate.main(["dvd_gan.evaluate", f"--workdir={workdir}", "--checkpoint=best", "--noprogress",
                        "--protocol=demo_fvd_pr"])
  out, err = capsys.readouterr()
  assert code == 0, err
  last = dict(line.split(": ", 1) for line in out.strip().splitlines() if re.match(r"demo_fvd_pr/\S+: ", line))
  assert {"demo_fvd_pr/fvd", "demo_fvd_pr/precision", "demo_fvd_pr/recall", "demo_fvd_pr/density",
          "demo_fvd_pr/coverage"} <= set(last), out
  assert all(0 <= float(last[f"demo_fvd_pr/{k}"]) <= 1 for k in ("precision", "recall", "coverage")), last
  assert out.strip().splitlines()[-1].startswith("demo_fvd_pr/"), out
  code = evaluate.main(["dvd_gan.evaluate", f"--workdir={workdir}", "--checkpoint=7"])
  err = capsys.readouterr().err.strip()
  assert code == 2 and err == f"error: no checkpoint of step 7 in {workdir}; steps available: 4, 10"

  png = tmp_path / "curve.png"
  assert plot_metrics.main(["plot_metrics", f"--workdir={workdir}", f"--out={png}"]) == 0
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scoring_on_replicas_equals_the_chief_s_device(tmp_path, tiny_config, tiny_features, mirrored_strategy):
  """Sampling and features inside strategy.run on 2 replicas (eval.on_replicas) give the fake features and
  the real statistics of the default path, video for video."""
  c = resolve_config(tiny_config())
  c.eval.batch_size = 4
  strategy = mirrored_strategy()
  with strategy.scope():
    generator = build_models(c)[0]
  p = dataclasses.replace(get_protocol("demo_fvd"), num_fake=7, repeats=2)  # repeats: keep the features
  host_scorer = GeneratorScorer(c, stats_dir=str(tmp_path / "host"), log=lambda s: None)
  host = host_scorer.fake_features(generator, p)
  c.eval.on_replicas = "yes"
  rep_scorer = GeneratorScorer(c, stats_dir=str(tmp_path / "rep"), strategy=strategy, log=lambda s: None)
  rep = rep_scorer.fake_features(generator, p)
  assert rep["logits"].num_items == host["logits"].num_items == 7
  np.testing.assert_allclose(rep["logits"].features, host["logits"].features, rtol=1e-5, atol=1e-5)
  real_host, real_rep = host_scorer.real_stats(p), rep_scorer.real_stats(p)
  assert real_host.num_items == real_rep.num_items == 64
  np.testing.assert_allclose(real_rep.mean, real_host.mean, rtol=1e-6)
  np.testing.assert_allclose(real_rep.cov, real_host.cov, rtol=1e-5, atol=1e-8)
