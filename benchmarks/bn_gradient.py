"""Batch norm's written-out gradient against TensorFlow's automatic one, in the training step of a config.

    python benchmarks/bn_gradient.py [--configs=tiny,demo] [--rounds=12] [--steps=20]
        [--json=benchmarks/results/bn_gradient.json]

In one process, for each config, two trainers of the same model on the same batch: one whose batch norms are
traced as the textbook `x * a + b` (a, b from the batch moments) and differentiated by TensorFlow, one as
shipped (`dvd_gan.layers.batch_norm.batch_normalize`, tf.custom_gradient). Their steps are timed in
alternating rounds of --steps steps (`configs_threads.time_sides`); one intra-op and two inter-op threads (the
configs' setting). Prints per config the ops per step, the median and best ms per step, the median CPU ms per
step, and the median of the per-round ratios automatic / written-out (> 1: the written-out gradient is faster).
"""
import contextlib
import functools
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from benchmarks.perf import configs_threads  # noqa: E402
from eval import command  # noqa: E402

SIDES = ("automatic", "written-out")


def define_flags(fv, argv):
  del argv
  configs_threads.define_flags(fv)


def _automatic_normalize_affine(self, x, scale, offset, training=None):
  """`_PerStepBatchNorm.normalize_affine` with the inference path's plain ops in training mode too (TensorFlow
  differentiates them): the reference side."""
  from dvd_gan.layers import batch_norm  # noqa: PLC0415 - imports TensorFlow: after the thread settings
  mean, variance = self.statistics(x, training=training)
  return batch_norm.affine_normalize(x, mean, variance, scale, offset, self.epsilon)


@contextlib.contextmanager
def _installed(side):
  """The side's batch-norm code in place (the reference or the shipped `normalize_affine`)."""
  from dvd_gan.layers import batch_norm  # noqa: PLC0415 - imports TensorFlow: after the thread settings
  shipped = batch_norm._PerStepBatchNorm.normalize_affine
  batch_norm._PerStepBatchNorm.normalize_affine = _automatic_normalize_affine if side == SIDES[0] else shipped
  try:
    yield
  finally:
    batch_norm._PerStepBatchNorm.normalize_affine = shipped


def measure(name: str, rounds: int, steps: int) -> dict:
  """The two sides of config `name` (module docstring)."""
  return configs_threads.measure_two_sides(name, rounds, steps, SIDES, _installed)


def body(fv, args):
  del args
  configs_threads.measure_and_report(
      fv, measure, ["config", "BN gradient", "ops per step", "ms per step, median (best)", "CPU ms per step",
                    "automatic / written-out, median of rounds (range)"],
      functools.partial(configs_threads.two_side_rows, sides=SIDES))


def main(argv=None) -> int:
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
