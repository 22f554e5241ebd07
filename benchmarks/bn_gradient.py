"""Batch norm's written-out gradient against TensorFlow's automatic one, in the training step of a config.

    python benchmarks/bn_gradient.py [--configs=tiny,demo] [--rounds=12] [--steps=20]
        [--json=benchmarks/results/bn_gradient.json]

In one process, for each config, two trainers of the same model on the same batch: one whose batch norms are
traced as the textbook `x * a + b` (a, b from the batch moments) and differentiated by TensorFlow, one as
shipped (`dvd_gan.layers.batch_norm.batch_normalize`, tf.custom_gradient). Their steps are timed in
alternating rounds of --steps steps (the order flips every round), so a machine that slows down or speeds
up during the run weighs on both alike; one intra-op and two inter-op threads (the configs' setting). Prints
per config the ops per step, the median and best ms per step, the median CPU ms per step, and the median of
the per-round ratios automatic / written-out (> 1: the written-out gradient is faster).
"""
import os
import resource
import sys
import time

from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from benchmarks.perf import configs_threads  # noqa: E402
from eval import command  # noqa: E402

_median = configs_threads.median

SIDES = ("automatic", "written-out")


def define_flags(fv, argv):
  del argv
  flags.DEFINE_list("configs", ["tiny", "demo"], "Experiment configs whose training step is timed.", flag_values=fv)
  flags.DEFINE_integer("rounds", 12, "Alternating rounds per config.", lower_bound=2, flag_values=fv)
  flags.DEFINE_integer("steps", 20, "Steps per side and round.", lower_bound=1, flag_values=fv)
  flags.DEFINE_string("json", None, "Also write the figures here as JSON.", flag_values=fv)


def _automatic_normalize_affine(self, x, scale, offset, training=None):
  """`_PerStepBatchNorm.normalize_affine` with the inference path's plain ops in training mode too (TensorFlow
  differentiates them): the reference side."""
  from dvd_gan.layers import batch_norm  # noqa: PLC0415 - imports TensorFlow: after the thread settings
  mean, variance = self.statistics(x, training=training)
  return batch_norm.affine_normalize(x, mean, variance, scale, offset, self.epsilon)


def _cpu_seconds():
  r = resource.getrusage(resource.RUSAGE_SELF)
  return r.ru_utime + r.ru_stime


def measure(name: str, rounds: int, steps: int) -> dict:
  """The two sides of config `name` (module docstring)."""
  from benchmarks.perf import common, training  # noqa: PLC0415 - imports TensorFlow: after the thread settings
  from dvd_gan import experiments, flops  # noqa: PLC0415 - as above
  from dvd_gan.layers import batch_norm  # noqa: PLC0415 - as above

  config = experiments.load(name)
  shipped = batch_norm._PerStepBatchNorm.normalize_affine
  trainers = {}
  for side in SIDES:  # each trainer's step is traced (its first call) while its side's layer code is in place
    batch_norm._PerStepBatchNorm.normalize_affine = _automatic_normalize_affine if side == SIDES[0] else shipped
    try:
      trainer, iterator, _ = training._trainer(config)
      for _ in range(3):
        common.sync(trainer.train_step(iterator))
    finally:
      batch_norm._PerStepBatchNorm.normalize_affine = shipped
    ops = flops.count_concrete(trainer.train_step.get_concrete_function(iterator)).num_ops
    trainers[side] = (trainer, iterator, ops)
  ms, cpu = {s: [] for s in SIDES}, {s: [] for s in SIDES}
  for r in range(rounds):
    for side in (SIDES if r % 2 == 0 else SIDES[::-1]):
      trainer, iterator, _ = trainers[side]
      c0, t0 = _cpu_seconds(), time.perf_counter()
      for _ in range(steps):
        out = trainer.train_step(iterator)
      common.sync(out)
      ms[side].append((time.perf_counter() - t0) / steps * 1e3)
      cpu[side].append((_cpu_seconds() - c0) / steps * 1e3)
  ratios = [a / b for a, b in zip(ms[SIDES[0]], ms[SIDES[1]])]
  return {"config": name, "rounds": rounds, "steps": steps,
          "sides": {s: {"ops": trainers[s][2], "median_ms": round(_median(ms[s]), 2), "best_ms": round(min(ms[s]), 2),
                        "median_cpu_ms": round(_median(cpu[s]), 2), "ms": [round(v, 2) for v in ms[s]]}
                    for s in SIDES},
          "ratio_median": round(_median(ratios), 3), "ratio_min": round(min(ratios), 3),
          "ratio_max": round(max(ratios), 3)}


def _rows(r):
  for side in SIDES:
    s = r["sides"][side]
    ratio = (f"{r['ratio_median']:.3f}x ({r['ratio_min']:.3f}-{r['ratio_max']:.3f})" if side == SIDES[1] else "")
    yield (r["config"], side, str(s["ops"]), f"{s['median_ms']:.1f} ({s['best_ms']:.1f})", f"{s['median_cpu_ms']:.1f}",
           ratio)


def body(fv, args):
  del args
  configs_threads.measure_and_report(
      fv, measure, ["config", "BN gradient", "ops per step", "ms per step, median (best)", "CPU ms per step",
                    "automatic / written-out, median of rounds (range)"], _rows)


def main(argv=None) -> int:
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
