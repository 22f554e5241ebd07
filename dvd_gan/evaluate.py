"""Scores a checkpoint of a training run with the final protocol(s) and prints the paper-style table row.

    python -m dvd_gan.evaluate --workdir=DIR [--checkpoint=best|last|STEP] [--protocol=NAME[,NAME]] [--json=F]
                               [--stats_dir=DIR] [--batch_size=N] [--split=SPLIT]
    dvd-gan-evaluate ...   (the same, as a console command)

--checkpoint: `best` (DIR/checkpoints_best, kept by the evaluation during training), `last` (the newest of
DIR/checkpoints) or a step number (either folder). Default: best when the run has one, else last.
--protocol: eval.protocols names (python -m eval protocols); default the run's `eval.final_protocols`, else
the paper's protocols for its dataset (Kinetics-600: k600_fid_is and k600_is_truncated; UCF-101:
ucf101_is_c3d; frame-conditional runs: fvd_k400; the synthetic demo: demo_fvd). Each protocol is scored as
it is defined (all its fake videos, its repeats): one `mean +- std` line per metric, then a table row with
the paper's figure beside ours, and last one line per metric `<protocol>/<metric>: <value>`.
Real statistics come from --stats_dir (default: the run's eval.stats_dir, else DIR/real_stats), computed
there once when missing. Feature-network weights: the run's eval.network_weights (--config overrides are not
taken; edit DIR/config.json or pass --weights for the protocols' network).
"""
import json
import sys

from absl import flags

from dvd_gan import errors
from eval import command, io
from eval.errors import EvalError
from eval.protocols import get_protocol


def define_flags(fv, argv):
  del argv
  d = dict(flag_values=fv)
  flags.DEFINE_string("workdir", None, "Training run folder (config.json, checkpoints/).", **d)
  flags.DEFINE_string("checkpoint", None, "best | last | a step number (default: best if any, else last).", **d)
  flags.DEFINE_string("protocol", None, "Protocol name(s), comma-separated (default: the run's final ones).", **d)
  flags.DEFINE_string("json", None, "Also write every figure and its settings to this JSON file.", **d)
  flags.DEFINE_string("stats_dir", None, "Folder of cached real statistics.", **d)
  flags.DEFINE_string("split", None, "Split of the real statistics (default: the protocol's / data.eval_split).",
                      **d)
  flags.DEFINE_string("weights", None, "Weights of the protocols' feature network.", **d)
  flags.DEFINE_integer("batch_size", None, "Sampling / feature batch (default: the run's eval.batch_size).",
                       lower_bound=1, **d)
  flags.DEFINE_boolean("progress", True, "Progress bars on stderr.", **d)


def load_config(workdir: str):
  """The resolved config of the run in `workdir` (its config.json)."""
  from dvd_gan import run_folder  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  return run_folder.load_config(workdir, not_found="--workdir is not a training run folder")


def resolve_checkpoint(workdir: str, which: str | None) -> tuple:
  """(checkpoint path prefix, "best" | "last" | "step N") for --checkpoint (dvd_gan.run_folder)."""
  from dvd_gan import run_folder  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  return run_folder.resolve_checkpoint(workdir, which)


def _cell(value, std, paper) -> str:
  text = f"{value:.4g}" + (f" +- {std:.2g}" if std else "")
  if paper is not None:
    p_value, p_std = paper
    text += f" (paper {p_value:g}" + (f" +- {p_std:g}" if p_std else "") + ")"
  return text


def table_rows(config, step: int, results) -> list:
  """A markdown header, separator and the run's row: one column per "<protocol>/<metric>"."""
  from dvd_gan.evaluation import protocols as run_protocols  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  keys, cells = [], []
  for result in results:
    values, stds = result.values(), result.stds()
    for key in values:
      keys.append(key)
      cells.append(_cell(values[key], stds[key], run_protocols.paper_figures(config, key)))
  label = f"{config.data.name} {config.num_frames} / {config.resolution}x{config.resolution}"
  return ["| run | step | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys),
          f"| {label} | {step} | " + " | ".join(cells) + " |"]


def body(fv, args):
  del args
  command.require(fv, "workdir")
  if fv.json and io.missing_output_folder(fv.json):
    raise EvalError(f"output directory does not exist: {io.missing_output_folder(fv.json)}")
  from dvd_gan import run_folder  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  from dvd_gan.config import resolve_config  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  from dvd_gan import standing_stats  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  from dvd_gan.evaluation import periodic, protocols as run_protocols  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  from dvd_gan.evaluation.scorer import GeneratorScorer  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  with errors.config_errors():  # the run's config, and protocols that do not fit it
    config = resolve_config(load_config(fv.workdir))
    names = tuple(n.strip() for n in fv.protocol.split(",") if n.strip()) if fv.protocol else \
        run_protocols.final_protocols(config)
    protocols = [run_protocols.check_protocol(config, get_protocol(n)) for n in names]
  if fv.batch_size:
    config.eval.batch_size = fv.batch_size
  if fv.split:
    config.eval.real_split = fv.split
  if fv.weights:
    for p in protocols:
      config.eval.network_weights[p.network.replace("-", "_")] = fv.weights
  path, which = resolve_checkpoint(fv.workdir, fv.checkpoint)
  step = run_folder.checkpoint_step(path)
  print(f"checkpoint: {which}, step {step} ({path})", flush=True)

  def log(line):
    print(line, file=sys.stderr, flush=True)

  generator = standing_stats.sampling_generator(run_folder.restore_ema_generator(config, path), config, log=log)

  scorer = GeneratorScorer(config, stats_dir=fv.stats_dir or periodic.stats_dir(config, fv.workdir),
                           log=log, progress=fv.progress, real_progress=fv.progress)
  results = []
  for p in protocols:
    result = scorer.score(generator, p)
    results.append(result)
    for line in result.lines():
      print(line, flush=True)
  for line in table_rows(config, step, results):
    print(line)
  if fv.json:
    record = {"workdir": fv.workdir, "checkpoint": path, "which": which, "step": step,
              "values": {k: v for r in results for k, v in r.values().items()},
              "protocols": {r.protocol.name: r.to_dict() for r in results}}
    io.write_text(fv.json, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
  for result in results:
    for key, value in result.values().items():
      print(f"{key}: {value:.4f}")


def main(argv=None) -> int:
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


def run():
  """Console entry point (setup.py: dvd-gan-evaluate)."""
  command.run(main)


if __name__ == "__main__":
  run()
