"""The evaluation of one training run, as the training loop sees it: one object and its calls.

    evaluation = RunEvaluation(config, workdir, trainer, strategy=..., chief=..., writer=..., start_step=...,
                               log=..., metric_fn=..., should_stop=..., build_models=...)
    evaluation.due(step)          # does the evaluation after this step need the step's metrics on the host?
    evaluation.evaluations_left(step, num_steps)   # evaluations still to come (the loop's ETA)
    evaluation.observe(values)    # the step's metrics, when they reached the host
    evaluation.after_step(step)   # the evaluation of a due step; True: the run must stop (collapse)
    evaluation.at_end()           # the end-of-run figures, written to <workdir>/fvd.json or prediction.json

It composes the two parts of a run's evaluation:

  PeriodicEvaluator   every eval.every_steps: metrics.jsonl, best checkpoint, collapse (periodic)
  EndOfRunEvaluator   once at the end when eval.fvd_at_end: SynthesisFigures (fvd.json) for a synthesis run,
                      PredictionFigures (prediction.json) for DVD-GAN-FP (end_of_run)

The end-of-run figures reuse the real statistics the periodic evaluation has cached when they describe the
same real set. Only the chief computes and writes figures; in multi-worker training the other workers still
take part in `after_step`'s agreement on the collapse decision.

`should_stop` (the loop's StopFlag.requested) is checked between the batches of both parts: when it says stop,
`after_step` and `at_end` raise eval.interrupt.Interrupted with nothing of that evaluation written (no
metrics.jsonl line; no figures file: it is written whole, once the figures are complete).
"""
from dvd_gan.evaluation import end_of_run
from dvd_gan.evaluation.periodic import PeriodicEvaluator
from eval import io as eio


class RunEvaluation:
  """The evaluations of one training run (see the module docstring).

  Args:
    config: the run's resolved config.
    workdir: the run folder (metrics.jsonl, best checkpoint, figures file).
    trainer: the run's Trainer (G_ema is scored).
    strategy: the run's tf.distribute strategy.
    chief: whether this process is the chief (the only one that scores and writes).
    writer: the run's TensorBoard summary writer.
    start_step: the step the run starts (or resumes) from.
    log: function printing one line.
    metric_fn: `(step, trainer) -> {"<protocol>/<metric>": value}` replacing the periodic scoring (tests).
    should_stop: `() -> bool` checked between batches; True raises Interrupted.
    build_models: `config -> (G, DS, DT)` of the run (the untrained generator of the end-of-run figures).
  """

  def __init__(self, config, workdir: str, trainer, *, strategy, chief: bool, writer, start_step: int,
               log=print, metric_fn=None, should_stop=None, build_models=None):
    self.workdir, self.trainer, self.log = workdir, trainer, log
    self.should_stop, self.build_models = should_stop, build_models
    self.periodic = PeriodicEvaluator(config, workdir, trainer, strategy=strategy, chief=chief, writer=writer,
                                      start_step=start_step, log=log, metric_fn=metric_fn,
                                      should_stop=should_stop)
    self.final = end_of_run.evaluator(config) if chief else None  # None: eval.fvd_at_end off, or not chief

  def due(self, step: int) -> bool:
    """Whether `after_step(step)` evaluates (and so needs the step's metrics through `observe` first)."""
    return self.periodic.due(step)

  def evaluations_left(self, step: int, num_steps: int) -> int:
    """How many evaluations during training come after `step` (for the loop's ETA)."""
    return self.periodic.evaluations_left(step, num_steps)

  def observe(self, values: dict) -> None:
    """Takes a training step's metrics on the host (D's scores on real and fake feed the collapse rule)."""
    self.periodic.observe(values)

  def after_step(self, step: int) -> bool:
    """Evaluates when `step` is due; returns True when the run must stop (collapse with action "stop").
    Raises Interrupted when `should_stop` stopped the evaluation (every worker has agreed first)."""
    return self.periodic.maybe_evaluate(step)

  def at_end(self) -> dict | None:
    """The end-of-run figures of the trained run (G_ema at its last step), written to `<workdir>/<file>`
    once complete; None when there are none (eval.fvd_at_end off, or not the chief). Raises Interrupted
    when `should_stop` stopped them: then no file is written."""
    if self.final is None:
      return None
    figures = self.final.evaluate(self.trainer, build_models=self.build_models, log=self.log,
                                  periodic=self.periodic, should_stop=self.should_stop)
    eio.write_json(eio.join(self.workdir, self.final.file), figures)
    return figures
