"""The D step's one call of each discriminator on [real; fake] against two calls, in the training step of a config.

    python benchmarks/d_one_call.py [--configs=tiny,demo] [--rounds=12] [--steps=20]
        [--xla] [--json=benchmarks/results/d_one_call.json]

In one process, for each config, two trainers of the same model on the same batch: one whose D step calls DS
and DT twice, on the fakes and then on the reals, each call of a discriminator making its own power iteration
(`two_call_scores`: the cost of the step before the one call), one as shipped (`Trainer._d_scores`: one call
of each on the 2b videos). Their steps are timed in alternating rounds of --steps steps
(`configs_threads.time_sides`); one intra-op and two inter-op threads (the configs' setting). Prints per config
the ops per step, the median and best ms per step, the median CPU ms per step, and the median of the per-round
ratios two calls / one call (> 1: the one call is faster); with --xla, the same again with the per-replica D and
G steps XLA-compiled (`train.xla`: how a TPU runs them).

`two_call_scores(..., fake_updates_u=False)` (the fakes' call reads u without updating it) computes what the
shipped step computes: tests/dvd_gan/training/test_step_optimisations.py checks every variable after a step.
"""
import contextlib
import functools
import os
import sys

from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from benchmarks.perf import configs_threads  # noqa: E402
from eval import command  # noqa: E402

SIDES = ("two calls", "one call")


def define_flags(fv, argv):
  del argv
  configs_threads.define_flags(fv)
  flags.DEFINE_bool("xla", False, "Also time both sides with the per-replica steps XLA-compiled (train.xla, "
                    "the TPU path).", flag_values=fv)


def two_call_scores(self, real, fake, y_real, y_fake, real_idx, fake_idx, dt_seed, fake_updates_u=True):
  """`Trainer._d_scores` with DS and DT each called on the fakes, then on the reals (DT's crops of the two calls
  drawn from `dt_seed + 1` and `dt_seed`). The reals' call is a training call (it updates u); the fakes' call
  is one iff `fake_updates_u` (D has no other training-only state)."""
  import tensorflow as tf  # noqa: PLC0415 - imports TensorFlow: after the thread settings

  ds_fake = tf.cast(self._ds(fake, y_fake, fake_idx, training=fake_updates_u), tf.float32)
  ds_real = tf.cast(self._ds(real, y_real, real_idx), tf.float32)
  dt_fake = tf.cast(self._dt(fake, y_fake, dt_seed + 1, training=fake_updates_u), tf.float32)
  dt_real = tf.cast(self._dt(real, y_real, dt_seed), tf.float32)
  return ds_real, ds_fake, dt_real, dt_fake


@contextlib.contextmanager
def installed(step, fake_updates_u=True):
  """`Trainer._d_scores` replaced by `two_call_scores` when `step` is "two calls"; the shipped one otherwise."""
  from dvd_gan.training import trainer  # noqa: PLC0415 - imports TensorFlow: after the thread settings
  shipped = trainer.Trainer._d_scores
  if step == SIDES[0]:
    trainer.Trainer._d_scores = functools.partialmethod(two_call_scores, fake_updates_u=fake_updates_u)
  try:
    yield
  finally:
    trainer.Trainer._d_scores = shipped


def measure(name: str, rounds: int, steps: int, xla: bool = False) -> dict:
  """The two sides of config `name` (module docstring)."""
  return configs_threads.measure_two_sides(name, rounds, steps, SIDES, installed, xla)


def body(fv, args):
  del args
  def measure_all(name, rounds, steps):
    plain = measure(name, rounds, steps)
    return [plain, measure(name, rounds, steps, xla=True)] if fv.xla else [plain]

  configs_threads.measure_and_report(
      fv, measure_all, ["config", "D step", "ops per step", "ms per step, median (best)", "CPU ms per step",
                    "two calls / one call, median of rounds (range)"],
      lambda results: (line for r in results for line in configs_threads.two_side_rows(r, SIDES)))


def main(argv=None) -> int:
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
