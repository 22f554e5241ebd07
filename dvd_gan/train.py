"""Command line: train DVD-GAN (docs/training.md).

    python -m dvd_gan.train                       # tiny config on the embedded synthetic data -> runs/demo
    python -m dvd_gan.train --config=experiments/<name>.py --workdir=DIR [--config.key=value ...]
    python -m dvd_gan.train --config=... --workdir=gs://... --strategy=tpu --tpu=local

Running again with the same --workdir resumes from its last checkpoint. SIGTERM / SIGINT save and exit.
"""
import os
import sys

from absl import app, flags
from ml_collections import config_flags

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DEFAULT_CONFIG = os.path.join(_REPO_ROOT, "experiments", "tiny.py")
if not os.path.exists(_DEFAULT_CONFIG):  # installed without the source tree: resolve from the working directory
  _DEFAULT_CONFIG = os.path.join("experiments", "tiny.py")

try:  # ml_collections reads the --config.key=value overrides of sys.argv here, at definition time
  _CONFIG = config_flags.DEFINE_config_file("config", default=_DEFAULT_CONFIG,
                                            help_string="Experiment file (experiments/*.py).")
except (AttributeError, KeyError) as _e:
  print(f"error: --config override names a field the config does not have: {str(_e).strip(chr(34))}",
        file=sys.stderr)
  sys.exit(2)
_WORKDIR = flags.DEFINE_string("workdir", "runs/demo", "Run folder: checkpoints, TensorBoard logs, samples.")
_STRATEGY = flags.DEFINE_enum("strategy", None, ["default", "mirrored", "multi_worker", "tpu"],
                              "Overrides config.train.strategy.")
_TPU = flags.DEFINE_string("tpu", None, "TPU name, or 'local' on a Cloud TPU VM (implies --strategy=tpu).")


def _config_error(e: Exception) -> str:
  """One line describing a failure to load --config or apply a --config.key=value override."""
  if isinstance(e, (AttributeError, KeyError)):
    return f"--config override names a field the config does not have: {str(e).strip(chr(34))}"
  lines = [line.strip() for line in str(e).splitlines() if line.strip()]
  return f"--config: {lines[-1] if lines else type(e).__name__}"


def _parse_flags(argv):
  """absl flag parsing with one-line errors (exit 2) instead of tracebacks for bad configs / overrides."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
  except (OSError, AttributeError, KeyError, TypeError, ValueError, SyntaxError) as e:
    print(f"error: {_config_error(e)}", file=sys.stderr)
  sys.exit(2)


def main(argv):
  if len(argv) > 1:
    print(f"error: unexpected arguments: {' '.join(argv[1:])}", file=sys.stderr)
    return 2
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  try:
    config = _CONFIG.value
    config.to_dict()  # the flag loads the file (and applies overrides) lazily: force it here
  except (OSError, AttributeError, KeyError, TypeError, ValueError, SyntaxError) as e:
    print(f"error: {_config_error(e)}", file=sys.stderr)
    return 2
  from dvd_gan.training.loop import NonFiniteLossError, train  # noqa: PLC0415 - after flag parsing
  if _TPU.value:
    config.train.tpu = _TPU.value
    config.train.strategy = "tpu"
  if _STRATEGY.value:
    config.train.strategy = _STRATEGY.value
  try:
    result = train(config, _WORKDIR.value, log=lambda s: print(s, flush=True))
  except NonFiniteLossError as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  except (ValueError, FileNotFoundError) as e:
    print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
    return 2
  except Exception as e:  # noqa: BLE001 - eval's one-line user errors
    if type(e).__name__ == "EvalError":
      print(f"error: {e}", file=sys.stderr)
      return 2
    raise
  print(f"done: step {result['step']}, workdir {_WORKDIR.value}", flush=True)
  return 0


def run():
  """Console entry point (setup.py: dvd-gan-train)."""
  app.run(lambda argv: sys.exit(main(argv)), flags_parser=_parse_flags)


if __name__ == "__main__":
  run()
