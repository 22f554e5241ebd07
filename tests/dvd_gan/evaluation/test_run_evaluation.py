"""RunEvaluation, the one evaluation object of a training run, on scripted figures and stand-in end-of-run
evaluators (no training, no feature network)."""
import json

import keras
import pytest
import tensorflow as tf

from dvd_gan.config import base_config
from dvd_gan.evaluation import end_of_run
from dvd_gan.evaluation import periodic as periodic_eval
from dvd_gan.evaluation.run_evaluation import RunEvaluation
from eval.interrupt import Interrupted


class _Trainer:
  """What the evaluations use of a Trainer without scoring it: G_ema and the step."""

  def __init__(self):
    self.G_ema = keras.Sequential([keras.Input([3]), keras.layers.Dense(2)])
    self.step = tf.Variable(0, dtype=tf.int64)


def _config(every=0, fvd_at_end=False, conditioning_frames=0):
  c = base_config()
  c.data.name = "synthetic"
  c.eval.every_steps = every
  c.eval.protocols = ("demo_fvd",)
  c.eval.collapse.threshold = 0.25
  c.eval.collapse.patience = 2
  c.eval.fvd_at_end = fvd_at_end
  if conditioning_frames:
    c.data.num_conditioning_frames = conditioning_frames
  return c


def _evaluation(config, workdir, *, chief=True, metric_fn=None, should_stop=None, trainer=None):
  return RunEvaluation(config, str(workdir), trainer or _Trainer(), strategy=None, chief=chief,
                       writer=tf.summary.create_noop_writer(), start_step=0, log=lambda line: None,
                       metric_fn=metric_fn or (lambda step, trainer: {}), should_stop=should_stop,
                       build_models="the run's build_models")


def _stand_in_figures(monkeypatch, cls, workdir, figures=None, error=None) -> list:
  """Replaces `cls.evaluate` by one that returns `figures` or raises `error`; returns the list of its calls
  (arguments, and whether the figures file in `workdir` existed during the call)."""
  calls = []

  def evaluate(self, trainer, *, build_models=None, log=print, periodic=None, should_stop=None):
    calls.append({"trainer": trainer, "build_models": build_models, "periodic": periodic,
                  "should_stop": should_stop, "file_during": (workdir / self.file).exists()})
    if error is not None:
      raise error
    return figures

  monkeypatch.setattr(cls, "evaluate", evaluate)
  return calls


def test_due_observe_and_after_step_run_the_periodic_evaluation(tmp_path):
  """every_steps 2 with scripted FVDs 100, 130, 140: only even steps are due; an evaluation after a due step
  writes one metrics.jsonl line whose d_margin is the mean of the observed steps' margins; the second worse
  FVD in a row (patience 2) makes after_step return True (stop)."""
  fvds = iter([100.0, 130.0, 140.0])
  evaluation = _evaluation(_config(every=2), tmp_path, metric_fn=lambda step, trainer: {"demo_fvd/fvd": next(fvds)})
  assert [s for s in range(7) if evaluation.due(s)] == [2, 4, 6]
  assert [evaluation.evaluations_left(s, 6) for s in range(7)] == [3, 3, 2, 2, 1, 1, 0]
  assert _evaluation(_config(every=0), tmp_path / "off").evaluations_left(0, 6) == 0
  assert not evaluation.after_step(1) and not (tmp_path / "metrics.jsonl").exists()
  evaluation.observe({"ds_real": 1.0, "ds_fake": 0.0, "dt_real": 3.0, "dt_fake": 0.0})  # margin 1
  evaluation.observe({"ds_real": 3.0, "ds_fake": 0.0, "dt_real": 5.0, "dt_fake": 0.0})  # margin 3
  assert not evaluation.after_step(2)
  assert not evaluation.after_step(4)
  assert evaluation.after_step(6)
  records = periodic_eval.read_metrics(str(tmp_path))
  assert [r["step"] for r in records] == [2, 4, 6] and records[0]["d_margin"] == pytest.approx(2.0)
  assert "collapse" in records[2] and "collapse" not in records[1]


def test_at_end_writes_the_figures_file_once_they_are_complete(tmp_path, monkeypatch):
  """With eval.fvd_at_end on a synthesis run, at_end hands the synthesis figures the run's trainer,
  build_models, stop check and its periodic evaluator (whose cached real statistics they reuse), returns
  their figures and writes them to fvd.json, which does not exist while they are computed."""
  calls = _stand_in_figures(monkeypatch, end_of_run.SynthesisFigures, tmp_path, figures={"fvd_ema_generator": 4.5})
  trainer = _Trainer()

  def should_stop():
    return False

  evaluation = _evaluation(_config(every=2, fvd_at_end=True), tmp_path, should_stop=should_stop, trainer=trainer)
  assert evaluation.at_end() == {"fvd_ema_generator": 4.5}
  assert len(calls) == 1 and not calls[0]["file_during"]
  assert calls[0]["trainer"] is trainer and calls[0]["build_models"] == "the run's build_models"
  assert calls[0]["periodic"] is evaluation.periodic and calls[0]["should_stop"] is should_stop
  assert json.loads((tmp_path / "fvd.json").read_text()) == {"fvd_ema_generator": 4.5}
  assert not (tmp_path / "prediction.json").exists()


def test_at_end_of_a_prediction_run_writes_prediction_json(tmp_path, monkeypatch):
  """A DVD-GAN-FP config (conditioning frames) gets the prediction figures, in prediction.json."""
  calls = _stand_in_figures(monkeypatch, end_of_run.PredictionFigures, tmp_path, figures={"fvd_trained": 3.0})
  evaluation = _evaluation(_config(fvd_at_end=True, conditioning_frames=2), tmp_path)
  assert evaluation.at_end() == {"fvd_trained": 3.0} and len(calls) == 1
  assert json.loads((tmp_path / "prediction.json").read_text()) == {"fvd_trained": 3.0}
  assert not (tmp_path / "fvd.json").exists()


def test_at_end_stopped_writes_no_file(tmp_path, monkeypatch):
  """Figures stopped by the stop check (Interrupted) propagate out of at_end and leave no fvd.json."""
  calls = _stand_in_figures(monkeypatch, end_of_run.SynthesisFigures, tmp_path, error=Interrupted("stop"))
  evaluation = _evaluation(_config(fvd_at_end=True), tmp_path)
  with pytest.raises(Interrupted):
    evaluation.at_end()
  assert len(calls) == 1 and sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("fvd_at_end, chief", [(False, True), (True, False)])
def test_at_end_has_no_figures_without_fvd_at_end_or_off_the_chief(tmp_path, monkeypatch, fvd_at_end, chief):
  """eval.fvd_at_end off, or a non-chief worker: at_end computes nothing, returns None and writes nothing."""
  calls = _stand_in_figures(monkeypatch, end_of_run.SynthesisFigures, tmp_path, figures={"x": 1.0})
  evaluation = _evaluation(_config(fvd_at_end=fvd_at_end), tmp_path, chief=chief)
  assert evaluation.at_end() is None
  assert calls == [] and sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_last_evaluation_s_generator_is_kept_only_for_its_step_and_end_of_run_figures(tmp_path):
  """PeriodicEvaluator.sampler_at(step) gives the generator the evaluation of `step` scored, None for any other
  step, and None in a run without end-of-run figures (no copy of G_ema is kept for nothing)."""
  trainer = _Trainer()

  class _Scorer:  # scores nothing: the property is which generator is kept
    def score(self, generator, name):
      return type("Result", (), {"values": lambda self: {}})()

  def periodic(fvd_at_end):
    c = _config(every=2, fvd_at_end=fvd_at_end)
    c.eval.standing_stats_batches = 0  # the generator scored is G_ema itself
    evaluation = _evaluation(c, tmp_path / str(fvd_at_end), trainer=trainer).periodic
    evaluation.scorer = _Scorer()
    return evaluation

  kept = periodic(fvd_at_end=True)
  assert kept.sampler_at(2) is None
  kept._score(2, trainer)
  assert kept.sampler_at(2) is trainer.G_ema and kept.sampler_at(4) is None
  kept._score(4, trainer)
  assert kept.sampler_at(2) is None and kept.sampler_at(4) is trainer.G_ema
  dropped = periodic(fvd_at_end=False)
  dropped._score(2, trainer)
  assert dropped.sampler_at(2) is None
  assert periodic_eval.PeriodicEvaluator(_config(every=0, fvd_at_end=True), str(tmp_path), trainer, strategy=None,
                                         chief=True, writer=None, start_step=0).sampler_at(0) is None
