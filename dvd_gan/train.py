"""Train DVD-GAN (docs/training.md).

    dvd-gan-train                                   # the demo (experiments/demo.py), synthetic data -> runs/demo
    dvd-gan-train --config=NAME --workdir=DIR [--config.key=value ...]   # NAME: an experiments/ file
    dvd-gan-train --config=path/to/file.py ...      # any experiment file
    dvd-gan-train --config=... --workdir=gs://... --strategy=tpu --tpu=local
(`python -m dvd_gan.train` is the same command.) Running again with the same --workdir resumes from its last
checkpoint. SIGTERM / SIGINT save and exit 0 (a second SIGINT: `error: interrupted`, exit 130 at once). Bad
flags or input, a workdir another trainer holds, a resume whose config changes the run (docs/training.md), or a
workdir whose checkpoints all fail to restore: one line `error: ...`, exit 2; a NaN/Inf loss or variable:
`error: non-finite ...`, exit 1.
"""
import os
import sys

from absl import flags

from eval import command
from dvd_gan import experiments

DEFAULT_CONFIG = "demo"


def define_flags(fv: flags.FlagValues, argv) -> None:
  experiments.DEFINE_config(fv, argv, default=DEFAULT_CONFIG)
  flags.DEFINE_string("workdir", "runs/demo", "Run folder: checkpoints, TensorBoard logs, samples.", flag_values=fv)
  flags.DEFINE_enum("strategy", None, ["default", "mirrored", "multi_worker", "tpu"],
                    "Overrides config.train.strategy.", flag_values=fv)
  flags.DEFINE_string("tpu", None, "TPU name, or 'local' on a Cloud TPU VM (implies --strategy=tpu).",
                      flag_values=fv)


def body(fv: flags.FlagValues, args) -> int:
  from dvd_gan.training.preemption import StopFlag  # noqa: PLC0415 - light: TensorFlow not imported yet
  with StopFlag():  # a signal while TensorFlow loads is handed to the loop, which then exits 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from dvd_gan.training.finite_state import NonFiniteVariableError  # noqa: PLC0415 - as the loop, below
    from dvd_gan.training.loop import NonFiniteLossError, train  # noqa: PLC0415 - heavy: after the flags
    config = fv.config
    if fv.tpu:
      config.train.tpu = fv.tpu
      config.train.strategy = "tpu"
    if fv.strategy:
      config.train.strategy = fv.strategy
    try:
      result = train(config, fv.workdir, log=lambda s: print(s, flush=True))
    except (NonFiniteLossError, NonFiniteVariableError) as e:
      print(f"error: {command.one_line(e)}", file=sys.stderr, flush=True)
      return 1
  if result["stopped_by"] is not None and result["stopped_by"] != "max_steps":
    print(f"stopped by signal {result['stopped_by']} at step {result['step']}; run the same command to resume",
          flush=True)
  else:
    print(f"done: step {result['step']}, workdir {fv.workdir}", flush=True)
  return 0


def main(argv=None) -> int:
  """`dvd-gan-train` / `python -m dvd_gan.train`: returns the exit status (0, 1 NaN loss or variable, 2 bad
  input)."""
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


def run() -> None:
  """Console entry point (setup.py: dvd-gan-train)."""
  command.run(main)


if __name__ == "__main__":
  run()
