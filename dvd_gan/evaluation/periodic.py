"""Evaluation during training: figures every `eval.every_steps`, metrics.jsonl, best checkpoint, collapse.

At every step that is a multiple of `eval.every_steps` (> 0), the chief scores G_ema under each of
`eval.protocols` (eval.protocols names; dvd_gan.evaluation.scorer), then

  - writes the figures to TensorBoard (`eval/<protocol>/<metric>`, `eval/seconds`, `eval/d_margin`);
  - appends one JSON line to `<workdir>/metrics.jsonl` (retried on storage errors, `append_record`):
      {"step": 600, "demo_fvd/fvd": 412.7, "seconds": 21.3, "d_margin": 1.2[, "best": true][, "collapse": why]}
  - keeps the checkpoint of the best main metric (`eval.main_metric`) in `<workdir>/checkpoints_best/` with
    `<workdir>/best.json` (dvd_gan.evaluation.best_checkpoint);
  - feeds the collapse rule (dvd_gan.evaluation.collapse, `eval.collapse`); when it fires the run logs it,
    records it in the line, and stops (saving a last checkpoint) or continues, as `eval.collapse.action`
    says. In multi-worker training the chief's decision to stop is shared with every worker.

`metric_fn(step, trainer) -> {"<protocol>/<metric>": value}` replaces the scoring (tests script the figures
with it). On resume, the lines of metrics.jsonl after the restored step are dropped (that stretch of
training is redone), so is a best checkpoint found after it (BestCheckpoint.roll_back), and the rest is
replayed into the collapse rule, so it continues where it was.

`should_stop` (the loop's StopFlag.requested) is checked between the scoring's batches: when it says stop,
`maybe_evaluate` raises eval.interrupt.Interrupted before anything of that evaluation is written (no line, no
TensorBoard figure, best.json unchanged; real statistics are cached only once complete). In multi-worker
training the workers still take part in the agreement on the collapse decision first.
"""
import json
import resource
import time

import tensorflow as tf

from dvd_gan import standing_stats
from dvd_gan.evaluation import collapse as collapse_lib
from dvd_gan.evaluation import protocols as run_protocols
from dvd_gan.training import summaries
from dvd_gan.evaluation.best_checkpoint import BestCheckpoint
from eval import io
from eval.interrupt import Interrupted
from dvd_gan.evaluation.scorer import GeneratorScorer

METRICS_FILE = "metrics.jsonl"


def read_metrics(workdir: str) -> list:
  """The records of `<workdir>/metrics.jsonl` (an empty list when there is none)."""
  path = io.join(workdir, METRICS_FILE)
  if not io.exists(path):
    return []
  return [json.loads(line) for line in io.read_text(path).splitlines() if line.strip()]


def append_record(workdir: str, record: dict) -> None:
  """Appends one JSON line to `<workdir>/metrics.jsonl`, retried on storage errors (eval.io.retry); an error
  that persists propagates: the evaluations, the best checkpoint and the collapse rule are replayed from
  this file on resume, so a run never goes on with a line missing."""
  line = json.dumps(record)
  io.retry(lambda: io.append_line(io.join(workdir, METRICS_FILE), line))


def stats_dir(config, workdir: str) -> str:
  """eval.stats_dir, else `<workdir>/real_stats`."""
  return config.eval.get("stats_dir", "") or io.join(workdir, "real_stats")


def _cpu_seconds() -> float:
  """CPU seconds of this process so far (all threads): an evaluation's cost, whatever else runs on the host."""
  r = resource.getrusage(resource.RUSAGE_SELF)
  return r.ru_utime + r.ru_stime


def _num_workers(strategy) -> int:
  """Number of worker processes of a MultiWorkerMirroredStrategy (1 for every other strategy)."""
  if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return 1
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not getattr(resolver, "task_type", None):
    return 1
  spec = resolver.cluster_spec().as_dict()
  return sum(len(tasks) for name, tasks in spec.items() if name in ("chief", "worker")) or 1


class PeriodicEvaluator:
  """The evaluations of one training run (see the module docstring). `enabled` is False when
  eval.every_steps is 0; then `observe` and `maybe_evaluate` do nothing."""

  def __init__(self, config, workdir: str, trainer, *, strategy, chief: bool, writer, start_step: int,
               log=print, metric_fn=None, should_stop=None):
    e = config.eval
    self.every = int(e.get("every_steps", 0) or 0)
    self.enabled = self.every > 0
    if not self.enabled:
      return
    steps_per_loop = int(config.train.get("steps_per_loop", 1) or 1)
    if self.every % steps_per_loop:
      raise ValueError(f"eval.every_steps ({self.every}) must be a multiple of train.steps_per_loop "
                       f"({steps_per_loop})")
    self.config, self.workdir, self.trainer, self.strategy = config, workdir, trainer, strategy
    self.chief, self.writer, self.log, self.should_stop = chief, writer, log, should_stop
    self.protocols = run_protocols.periodic_protocols(config)
    if metric_fn is None:
      if not self.protocols:
        raise ValueError("eval.every_steps > 0 needs eval.protocols (e.g. ('demo_fvd',))")
      for name in self.protocols:
        run_protocols.check_protocol(config, name)  # a wrong protocol fails now, not after hours
    self.main = run_protocols.main_metric(config, self.protocols)
    higher = run_protocols.higher_is_better(self.main)
    self.action = e.collapse.get("action", "stop")
    self.rule = collapse_lib.rule_from_config(e.collapse, higher)
    self.margin = collapse_lib.MarginMeter()
    self.multi_worker = _num_workers(strategy) > 1
    self.scorer, self.best = None, None
    # (step, the generator the last evaluation sampled with), for the end-of-run figures (sampler_at); kept
    # only when there will be such figures, as it is a copy of G_ema when standing statistics are on.
    self._sampler, self._keep_sampler = None, bool(e.get("fvd_at_end", False))
    # One copy of G_ema for the standing statistics of every evaluation (traced once, not per evaluation).
    self._standing = None
    if chief:
      self.best = BestCheckpoint(workdir, trainer.G_ema, trainer.step, self.main, higher) if e.get(
          "keep_best", True) else None
      self._resume(start_step)
      if metric_fn is None:
        self.scorer = GeneratorScorer(config, stats_dir=stats_dir(config, workdir), strategy=strategy, log=log,
                                      should_stop=should_stop)
        for name in self.protocols:  # missing weights fail now
          self.scorer.network(run_protocols.check_protocol(config, name).network)
        metric_fn = self._score
    self.metric_fn = metric_fn

  def _resume(self, start_step: int) -> None:
    records = read_metrics(self.workdir)
    kept = [r for r in records if int(r.get("step", 0)) <= start_step]
    if len(kept) < len(records):
      io.write_text(io.join(self.workdir, METRICS_FILE), "".join(json.dumps(r) + "\n" for r in kept))
      self.log(f"metrics.jsonl: dropped {len(records) - len(kept)} evaluation(s) after step {start_step} "
               "(training resumes from there)")
    if self.best is not None:
      self.best.roll_back(start_step, kept, self.log)
    if self.rule is not None:
      for r in kept:
        self.rule.update(int(r["step"]), r.get(self.main), r.get("d_margin"))

  def _score(self, step: int, trainer) -> dict:
    # The generator that is scored: G_ema, or its copy with standing statistics (eval.standing_stats_batches).
    self._sampler = None
    if self._standing is None and standing_stats.settings(self.config)["batches"] > 0:
      self._standing = standing_stats.StandingStats(trainer.G_ema)
    generator = standing_stats.sampling_generator(trainer.G_ema, self.config, log=self.log,
                                                  should_stop=self.should_stop, standing=self._standing)
    if self._keep_sampler:
      self._sampler = (int(step), generator)
    figures = {}
    for name in self.protocols:
      result = self.scorer.score(generator, name)
      figures.update(result.values())
    return figures

  def observe(self, metrics: dict) -> None:
    """Takes the training step's metrics (D's scores on real and fake feed the margin rule)."""
    if self.enabled:
      self.margin.observe(metrics)

  def due(self, step: int) -> bool:
    return self.enabled and step > 0 and step % self.every == 0

  def evaluations_left(self, step: int, num_steps: int) -> int:
    """How many of the steps step + 1 .. num_steps are due."""
    return max(num_steps // self.every - step // self.every, 0) if self.enabled else 0

  def maybe_evaluate(self, step: int) -> bool:
    """Evaluates at the steps that are due; returns True when the run must stop (collapse, action stop).
    Raises Interrupted when `should_stop` stopped the evaluation (module docstring)."""
    if not self.due(step):
      return False
    stop, interrupted = False, None
    margin = self.margin.take()
    if self.chief:
      try:
        stop = self._evaluate(step, margin)
      except Interrupted as e:  # raised after the agreement below, which the other workers wait in
        interrupted = e
    if self.multi_worker:  # every worker reaches this step: agree on the chief's decision
      flag = self.strategy.run(lambda: tf.constant(1.0 if stop else 0.0))
      stop = bool(self.strategy.reduce(tf.distribute.ReduceOp.SUM, flag, axis=None).numpy() > 0)  # no MAX op
    if interrupted is not None:
      raise interrupted
    return stop

  def _evaluate(self, step: int, margin) -> bool:
    t0, cpu0 = time.time(), _cpu_seconds()
    figures = {k: float(v) for k, v in self.metric_fn(step, self.trainer).items()}
    seconds, cpu = time.time() - t0, _cpu_seconds() - cpu0
    record = {"step": int(step), **figures, "seconds": round(seconds, 2)}
    if margin is not None:
      record["d_margin"] = round(margin, 6)
    value = figures.get(self.main)
    notes = []
    if value is not None and self.best is not None and self.best.update(step, value):
      record["best"] = True
      notes.append("new best")
    stop = False
    if self.rule is not None:
      reason = self.rule.update(step, value, margin)
      if reason:
        record["collapse"] = reason
        stop = self.action == "stop"
        notes.append(f"COLLAPSE: {reason}; " + ("stopping" if stop else "continuing (eval.collapse.action)"))
    append_record(self.workdir, record)
    with self.writer.as_default():
      for key, v in figures.items():
        summaries.scalar(f"eval/{key}", v, step)
      summaries.scalar("eval/seconds", seconds, step)
      if margin is not None:
        summaries.scalar("eval/d_margin", margin, step)
    summaries.flush(self.writer, self.log)
    shown = "  ".join(f"{k} {v:.4g}" for k, v in figures.items())
    self.log(f"eval step {step}: {shown}  ({seconds:.1f} s, {cpu:.1f} CPU s)"
             f"{'; ' + '; '.join(notes) if notes else ''}")
    return stop

  def sampler_at(self, step: int):
    """The generator the evaluation of `step` sampled with (G_ema, or its copy with standing statistics), or
    None when no evaluation of this process scored that step. G_ema changes only with a training step, so at
    the same step it is the generator `standing_stats.sampling_generator` would build again (same weights,
    same seeded accumulation): the end-of-run figures reuse it instead of accumulating the statistics twice."""
    if not self.enabled or self._sampler is None or self._sampler[0] != int(step):
      return None
    return self._sampler[1]

  def feature_network(self, name: str):
    """The feature network `name` as this run's evaluations built it (with the run's weights for it), or None
    when they have none or run it on the replicas (eval.on_replicas: a wrapper, not a FeatureNetwork)."""
    if not self.enabled or self.scorer is None or self.scorer.on_replicas:
      return None
    return self.scorer.network(name)

  def reference_stats(self, split: str, num_videos: int, network: str):
    """The cached real statistics of a periodic protocol whose real set is the first `num_videos` videos
    of `split` at `network`'s logits, or the whole split when it has fewer (the end-of-run figures'
    reference set), or None."""
    if not self.enabled or self.scorer is None:
      return None
    for name in self.protocols:
      p = run_protocols.check_protocol(self.config, name)
      cached = self.scorer.cached_real_stats(p.name)
      same_videos = cached is not None and (p.num_real == num_videos or (
          p.num_real is None and cached.num_items <= num_videos))
      if (same_videos and p.real_layer == "logits" and p.network == network
          and run_protocols.real_split(self.config, p) == split and p.frames in (None, int(self.config.num_frames))):
        return cached
    return None
