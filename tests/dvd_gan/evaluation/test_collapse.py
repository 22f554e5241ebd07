"""The collapse rule and the best-checkpoint logic on scripted metric sequences (no training)."""
import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.config import base_config
from dvd_gan.evaluation import best_checkpoint
from dvd_gan.evaluation import periodic as periodic_eval
from dvd_gan.evaluation.collapse import CollapseRule, MarginMeter


def _fires(rule, values, margins=None):
  """Feeds values (steps 1, 2, ...) and returns {step: reason} of the evaluations where the rule fired."""
  margins = margins or [None] * len(values)
  out = {}
  for step, (v, m) in enumerate(zip(values, margins), start=1):
    reason = rule.update(step, v, m)
    if reason:
      out[step] = reason
  return out


def test_metric_rule_fires_after_patience_worse_evaluations_in_a_row():
  """Lower is better (FVD): best 100 at step 2; 130 (> 25% worse) at steps 4 and 5 and 6 fire at step 6 with
  patience 3, not earlier; 120 (not past 25%) breaks the streak at step 3; the rule fires only once."""
  rule = CollapseRule(threshold=0.25, patience=3)
  fired = _fires(rule, [150, 100, 120, 130, 130, 130, 140, 500])
  assert list(fired) == [6] and "worse than its best 100" in fired[6] and "3 evaluations" in fired[6]
  assert rule.fired_at == 6 and rule.best == 100


def test_metric_rule_higher_is_better_and_streak_reset():
  """IS (higher is better): values below best * (1 - threshold) count; one good value resets the streak."""
  rule = CollapseRule(higher_is_better=True, threshold=0.1, patience=2)
  # best 12 from step 2: worse means below 10.8; 10.5 (worse), 11.5 (reset), 10.7, 10.0 (worse twice) -> step 6
  assert list(_fires(rule, [10, 12, 10.5, 11.5, 10.7, 10.0])) == [6]
  assert rule.best == 12


def test_non_finite_metric_counts_as_worse_and_margin_rule():
  """NaN is worse than any value; the margin rule fires on `patience` saturated margins in a row, and is off
  when margin_saturation is 0."""
  assert list(_fires(CollapseRule(patience=2), [5.0, math.nan, math.nan])) == [3]
  rule = CollapseRule(threshold=10.0, patience=2, margin_saturation=3.0)
  fired = _fires(rule, [1.0] * 6, margins=[1.0, 3.5, 2.0, 3.1, 4.0, 9.0])
  assert list(fired) == [5] and "margin >= 3" in fired[5]
  assert _fires(CollapseRule(threshold=10.0, patience=1), [1.0] * 3, margins=[50.0] * 3) == {}


def test_margin_meter_takes_the_smaller_discriminator_margin():
  meter = MarginMeter()
  meter.observe({"ds_real": 2.0, "ds_fake": -1.0, "dt_real": 1.0, "dt_fake": 0.0})  # min(3, 1) = 1
  meter.observe({"ds_real": 0.0, "ds_fake": 0.0, "dt_real": 4.0, "dt_fake": -1.0})  # min(0, 5) = 0
  assert meter.take() == pytest.approx(0.5) and meter.take() is None


class _Trainer:
  """What the evaluator and BestCheckpoint use of a Trainer: G_ema and the step."""

  def __init__(self):
    self.G_ema = keras.Sequential([keras.Input([3]), keras.layers.Dense(2)])
    self.step = tf.Variable(0, dtype=tf.int64)


def test_best_checkpoint_keeps_the_best_step_and_resumes(tmp_path):
  """Only improvements are saved (lower is better); checkpoints_best holds one checkpoint, of the best step,
  whose G_ema variables are that step's; a new BestCheckpoint on the same workdir knows the best value."""
  trainer = _Trainer()
  best = best_checkpoint.BestCheckpoint(str(tmp_path), trainer.G_ema, trainer.step, "p/fvd", False)
  kernels = {}
  for step, value in [(1, 50.0), (2, 40.0), (3, 45.0), (4, 39.0), (5, 80.0)]:
    trainer.G_ema.layers[0].kernel.assign(np.full([3, 2], step, np.float32))
    kernels[step] = trainer.G_ema.layers[0].kernel.numpy()
    assert best.update(step, value) == (step in (1, 2, 4))
  assert json.loads((tmp_path / "best.json").read_text()) == {"step": 4, "metric": "p/fvd", "value": 39.0}
  path = best_checkpoint.best_checkpoint_path(str(tmp_path))
  assert path.endswith("ckpt-4") and sorted(p.name for p in (tmp_path / "checkpoints_best").glob("*.index")) == [
      "ckpt-4.index"]
  reader = tf.train.load_checkpoint(path)
  stored = [reader.get_tensor(k) for k, _ in tf.train.list_variables(path) if k.startswith("G_ema/v0000")]
  np.testing.assert_array_equal(stored[0], kernels[4])
  assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == 4
  again = best_checkpoint.BestCheckpoint(str(tmp_path), trainer.G_ema, trainer.step, "p/fvd", False)
  assert again.value == 39.0 and not again.update(6, 39.5) and again.update(7, 10.0)


def _evaluator_config(every=2, patience=2):
  c = base_config()
  c.data.name = "synthetic"
  c.eval.every_steps = every
  c.eval.protocols = ("demo_fvd",)
  c.eval.collapse.threshold = 0.25
  c.eval.collapse.patience = patience
  return c


def test_resume_drops_later_evaluations_and_replays_the_rule(tmp_path):
  """Resuming at step 6: metrics.jsonl loses the lines after step 6 (training redoes them), and the collapse
  rule continues its streak from the kept lines, so it fires at step 8 (2nd worse evaluation in a row)."""
  lines = [{"step": 2, "demo_fvd/fvd": 100.0}, {"step": 4, "demo_fvd/fvd": 80.0},
           {"step": 6, "demo_fvd/fvd": 110.0}, {"step": 8, "demo_fvd/fvd": 70.0}]
  (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
  writer = tf.summary.create_file_writer(str(tmp_path / "tb"))
  logs = []
  ev = periodic_eval.PeriodicEvaluator(_evaluator_config(), str(tmp_path), _Trainer(), strategy=None, chief=True,
                                       writer=writer, start_step=6, log=logs.append,
                                       metric_fn=lambda step, trainer: {"demo_fvd/fvd": 120.0})
  assert [r["step"] for r in periodic_eval.read_metrics(str(tmp_path))] == [2, 4, 6]
  assert any("dropped 1 evaluation(s) after step 6" in line for line in logs)
  assert not ev.maybe_evaluate(7)  # not due
  assert ev.maybe_evaluate(8)      # 110, 120: worse than 80 by > 25% twice in a row -> stop
  last = periodic_eval.read_metrics(str(tmp_path))[-1]
  assert last["step"] == 8 and last["demo_fvd/fvd"] == 120.0 and "collapse" in last


def test_every_steps_must_be_a_multiple_of_steps_per_loop(tmp_path):
  c = _evaluator_config(every=3)
  c.train.steps_per_loop = 2
  with pytest.raises(ValueError, match="multiple of train.steps_per_loop"):
    periodic_eval.PeriodicEvaluator(c, str(tmp_path), _Trainer(), strategy=None, chief=True, writer=None,
                                    start_step=0, metric_fn=lambda s, t: {})
