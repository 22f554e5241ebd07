"""End-of-run evaluators: what a finished run scores once (`eval.fvd_at_end`) and the file it writes.

A run's evaluation (dvd_gan.evaluation.run_evaluation.RunEvaluation, on the chief) asks `evaluator(config)`
for the run's evaluator and calls it through one interface:

    final = end_of_run.evaluator(config)              # None when eval.fvd_at_end is off
    figures = final.evaluate(trainer, build_models=..., log=..., periodic=...)   # a JSON-able dict
    write figures to <workdir>/<final.file>

  SynthesisFigures   workdir/fvd.json: the three FVDs and the synthetic class cues (dvd_gan.evaluation.figures)
  PredictionFigures  workdir/prediction.json: DVD-GAN-FP's figures (dvd_gan.evaluation.prediction.demo_figures)
"""
from dvd_gan.models.build import num_conditioning_frames
from dvd_gan.evaluation import prediction


class EndOfRunEvaluator:
  """The interface: `file` (the name of the JSON file in the run folder) and `evaluate`."""

  file = ""

  def __init__(self, config):
    self.config = config

  def evaluate(self, trainer, *, build_models=None, log=print, periodic=None, should_stop=None) -> dict:
    """The figures of the run's trained `trainer` (G_ema at its last step).

    Args:
      trainer: the run's Trainer.
      build_models: `config -> (G, DS, DT)` of the run (the untrained generator's figures), None: the default.
      log: function printing one line.
      periodic: the run's PeriodicEvaluator, or None: its cached real statistics are reused when they fit, so
        are its feature network and the generator its evaluation of the last step sampled with.
      should_stop: `() -> bool` checked between batches (eval.interrupt): True raises Interrupted and no
        figures are returned (the caller writes no file).
    """
    raise NotImplementedError


class SynthesisFigures(EndOfRunEvaluator):
  """FVD of the untrained G, the EMA G and a second real set against the reference split (figures.splits:
  the synthetic test split, a video folder's evaluation split), by figures.demo_figures."""

  file = "fvd.json"

  def evaluate(self, trainer, *, build_models=None, log=print, periodic=None, should_stop=None) -> dict:
    from dvd_gan.evaluation import figures  # noqa: PLC0415 - imports eval's networks: only when scoring
    e = self.config.eval
    reference, sampler, network = None, None, None
    if periodic is not None:
      reference = periodic.reference_stats(figures.splits(self.config)[0], int(e.num_videos), e.network)
      sampler = periodic.sampler_at(int(trainer.step.numpy()))
      network = periodic.feature_network(e.network)
    return figures.demo_figures(self.config, trainer, build_models=build_models, log=log,
                                real_reference=reference, sampler=sampler, network=network,
                                should_stop=should_stop)


class PredictionFigures(EndOfRunEvaluator):
  """DVD-GAN-FP: the trained, untrained and copy-last-frame predictions (prediction.demo_figures)."""

  file = "prediction.json"

  def evaluate(self, trainer, *, build_models=None, log=print, periodic=None, should_stop=None) -> dict:
    del periodic  # its protocols score samples from latents; prediction figures condition on real frames
    return prediction.demo_figures(self.config, trainer, build_models=build_models, log=log,
                                   should_stop=should_stop)


def evaluator(config):
  """The end-of-run evaluator of `config` (`PredictionFigures` for DVD-GAN-FP, else `SynthesisFigures`), or
  None when `eval.fvd_at_end` is off."""
  if not config.eval.get("fvd_at_end", False):
    return None
  return PredictionFigures(config) if num_conditioning_frames(config) else SynthesisFigures(config)
