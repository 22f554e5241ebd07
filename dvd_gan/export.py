"""Exports the EMA generator of a training run as a self-contained SavedModel that serves samples.

    dvd-gan-export --workdir=DIR --out=EXPORT_DIR [--overwrite] [--class_names=FILE] [--xla]
                   [--standing_stats_batches=N] [--max_batch_size=256] [--max_latents=65536]
                   [--config=NAME_OR_FILE --config.key=value ...]       (or python -m dvd_gan.export)

It restores only `G_ema` from the newest checkpoint of DIR/checkpoints (written by dvd_gan.training.loop,
read by dvd_gan.run_folder), rebuilds the generator from the run's resolved config (DIR/config.json; --config
replaces it, with the usual ml_collections overrides) in float32, and writes a SavedModel whose signatures
(dvd_gan.generators.Sampler, Predictor) run G_ema in inference mode (training=False: batch norm uses G_ema's
moving statistics, spectral norm its stored `u`, nothing updates).
With standing statistics on (`eval.standing_stats_batches` > 0 in the config, or --standing_stats_batches),
the exported generator is a copy of G_ema whose moving statistics are its standing statistics
(dvd_gan/standing_stats.py; weights and `u` are G_ema's):

  sample(z: float32 [B, z_dim], y: int32 [B])            -> {"video": float32 [B, T, H, W, 3] in [-1, 1]}
      (unconditional models: sample(z) without y)
  sample_mixed(z: float32 [B, z_dim], y0: int32 [B], y1: int32 [B], alpha: float32 [B])
      -> {"video"}: G_ema with the class embedding (1 - alpha) e(y0) + alpha e(y1)   (conditional models only)
  latents(batch_size: int32 [], seed: int64 [], truncation: float32 [], truncation_mode: string [])
      -> {"z": float32 [B, z_dim], "y": int32 [B] (conditional models only)}; truncation_mode "scale"
      (z ~ N(0, truncation^2 I), the z of sample_random) or "resample" (BigGAN: components of N(0, I) above
      the threshold `truncation` redrawn; dvd_gan.truncation)
  sample_random(batch_size: int32 [], seed: int64 [], truncation: float32 [])
      -> {"video": float32 [B, T, H, W, 3], "video_uint8": uint8 [B, T, H, W, 3],
          "z": float32 [B, z_dim], "y": int32 [B] (conditional models only)}
      z ~ N(0, truncation^2 I) (the truncation trick; docs/paper.md: sigma = 0.44 for the truncated samples),
      y uniform over the classes; a pure function of (batch_size, seed, truncation).
  sample_random_labels(y: int32 [B], seed: int64 [], truncation: float32 [])   (conditional models only)
      -> the same outputs for the given classes; its z equals sample_random's z for the same seed and B.
  serving_default = sample_random.

DVD-GAN-FP runs (data.num_conditioning_frames = C > 0; `Predictor`) have one signature instead:

  predict(frames: uint8 [N, C, H, W, 3], seed: int64 [], truncation: float32 [])
      -> {"video": float32 [N, C + T, H, W, 3] in [-1, 1], "video_uint8": uint8 [N, C + T, H, W, 3]
          ([conditioning frames; predicted frames]), "predicted": float32 [N, T, H, W, 3], "z": float32 [N, z_dim]}
      the frames enter G as frames / 127.5 - 1 (the training data's scaling); z ~ N(0, truncation^2 I) from
      the seed as sample_random's; a pure function of (frames, seed, truncation).
  serving_default = predict.

Serving bounds: a call of a video signature (sample, sample_mixed, sample_random, sample_random_labels,
predict) for more than --max_batch_size videos, a call of latents for more than --max_latents rows, and a
non-finite z, alpha or truncation are refused with tf.errors.InvalidArgumentError before anything of the
batch's size is allocated.
The loaded object also carries the constants `format_version`, `resolution`, `num_frames`, `num_classes`,
`z_dim`, `max_batch_size`, `max_latents` and `class_names` (string [C], empty when unknown) as variables
(DVD-GAN-FP exports also `num_conditioning_frames`). Input checks run outside the
generator's function, which `--xla` XLA-compiles (XLA drops Assert ops). The export folder also holds
export_meta.json (format version, step, checkpoint, resolved config, class names when known, the
signatures, "max_batch_size", "max_latents", and "standing_stats": {"batches" (0 = off), "batch_size", "seed",
"truncation"}). Loading needs
TensorFlow only (`tf.saved_model.load`), not dvd_gan.
--workdir and --out may be on any filesystem TensorFlow knows (`gs://...`). The SavedModel is written to a
temporary folder next to --out and then published (`eval.io.publish_dir`): renamed into place on a local
disk; on an object store, which has no folder rename, copied file by file. Either way the file `COMPLETE`
is written into --out last: an export is complete when `eval.io.is_complete(out)` (the file exists); a
folder without it is an interrupted export.
"""
import os
from typing import Optional, Sequence

import ml_collections
import tensorflow as tf

from dvd_gan import run_folder
from dvd_gan.generators import (DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_LATENTS, FORMAT, FORMAT_VERSION, META_FILE,
                                make_served_module)
from dvd_gan.errors import UserError
from eval import command
from eval import io as eio
from absl import flags
from dvd_gan import experiments
from dvd_gan import standing_stats
from dvd_gan.config import resolve_config

# Problems with the export's inputs are one-line errors of the run folder's kind (the CLI prints them, exits 2).


def read_class_names(path: str) -> list:
  """One class name per non-empty line of `path`, in label order."""
  try:
    return [line.strip() for line in eio.read_text(path).splitlines() if line.strip()]
  except (UnicodeDecodeError, *eio.io_errors()) as e:
    raise UserError(f"cannot read --class_names {path}: {command.first_line(e)}") from None


# ---- export ----------------------------------------------------------------------------------------------

def _describe(fn) -> dict:
  """{"inputs": {name: [dtype, shape]}, "outputs": {...}} of a concrete function (for export_meta.json)."""
  def spec(s):
    return [s.dtype.name, s.shape.as_list()]
  return {"inputs": {s.name: spec(s) for s in tf.nest.flatten(fn.structured_input_signature)},
          "outputs": {k: spec(s) for k, s in fn.structured_outputs.items()}}


def _check_out(out: str, overwrite: bool) -> None:
  if eio.exists(out) and not eio.isdir(out):
    raise UserError(f"--out {out} exists and is not a folder")
  if eio.isdir(out) and eio.listdir(out) and not overwrite:
    raise UserError(f"--out {out} exists and is not empty (pass --overwrite to replace it)")


def _absolute(path: str) -> str:
  return str(path) if eio.has_scheme(path) else os.path.abspath(path)


def export(workdir: str, out: str, *, config=None, overwrite: bool = False,
           class_names: Optional[Sequence[str]] = None, xla: bool = False,
           standing_stats_batches: Optional[int] = None, max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
           max_latents: int = DEFAULT_MAX_LATENTS, log=print) -> dict:
  """Writes the SavedModel of the run's latest G_ema to `out`; returns the export metadata.

  Args:
    workdir: training run folder (config.json, checkpoints/).
    out: export folder; must be absent or empty unless `overwrite`.
    config: the run's top-level config (resolved like the training loop does); None: `<workdir>/config.json`.
    overwrite: replace a non-empty `out`.
    class_names: names in label order; None: `default_class_names(config)`.
    xla: XLA-compile the generator's function (the input checks stay outside it; see `Sampler`).
    standing_stats_batches: replaces the config's `eval.standing_stats_batches` (0 = off); None: keep it.
    max_batch_size: the most videos one call of a video signature serves (more: InvalidArgumentError).
    max_latents: the most rows one call of `latents` draws.
    log: function printing one line.

  Raises:
    UserError: a one-line problem with the inputs (no checkpoint, --out not empty, config mismatch, ...).
  """
  _check_out(out, overwrite)
  for name, value in (("max_batch_size", max_batch_size), ("max_latents", max_latents)):
    if int(value) < 1:
      raise UserError(f"--{name} must be >= 1, got {value}")
  checkpoint_path = run_folder.latest_checkpoint(workdir)
  if config is None:
    config = run_folder.load_config(workdir)
  else:
    config = resolve_config(config)
  num_classes = int(config.num_classes)
  num_context = int(config.data.get("num_conditioning_frames", 0))
  step = run_folder.checkpoint_step(checkpoint_path)
  if class_names is None:
    class_names = run_folder.default_class_names(config) if num_classes > 0 else None
  elif len(class_names) != num_classes:
    raise UserError(f"{len(class_names)} class names given for a model with {num_classes} classes")
  if class_names is not None and len(class_names) != num_classes:
    class_names = None
  if standing_stats_batches is not None:
    if int(standing_stats_batches) < 0:
      raise UserError(f"--standing_stats_batches must be >= 0, got {standing_stats_batches}")
    config = ml_collections.ConfigDict(config.to_dict())
    config.eval.standing_stats_batches = int(standing_stats_batches)
  standing = standing_stats.settings(config)
  generator = run_folder.sampling_generator(run_folder.restore_ema_generator(config, checkpoint_path), config,
                                            log=log)
  sampler = make_served_module(generator, config, class_names, xla=xla, max_batch_size=int(max_batch_size),
                               max_latents=int(max_latents))
  signatures = sampler.signatures()
  meta = {
      "format": FORMAT, "format_version": FORMAT_VERSION,
      "step": step, "checkpoint": _absolute(checkpoint_path), "workdir": _absolute(workdir),
      "num_frames": int(config.num_frames), "resolution": int(config.resolution),
      "num_classes": num_classes, "z_dim": int(config.model.z_dim),
      "num_conditioning_frames": num_context,
      "class_names": list(class_names) if class_names is not None else None,
      "dtype": "float32", "xla": bool(xla), "tensorflow_version": tf.__version__,
      "standing_stats": standing,
      "max_batch_size": int(max_batch_size), "max_latents": int(max_latents),
      "signatures": {name: _describe(fn) for name, fn in signatures.items()},
      "config": config.to_dict(),
  }
  out = str(out).rstrip("/") if eio.has_scheme(out) else str(out)
  tmp = eio.temporary_dir(out)
  parent = eio.missing_output_folder(out)
  if parent:  # --out=exports/demo in a fresh clone: create exports/ (as dvd_gan.sample does for its --out)
    eio.makedirs(parent)
  try:
    tf.saved_model.save(sampler, tmp, signatures=signatures)
    eio.write_json(eio.join(tmp, META_FILE), meta)
    _check_out(out, overwrite)  # still true after the (long) save?
    # An empty --out folder is replaced without --overwrite (_check_out allowed it).
    eio.publish_dir(tmp, out, overwrite=eio.exists(out))
  finally:
    if eio.exists(tmp):
      eio.remove(tmp)
  log(f"exported G_ema of step {step} ({checkpoint_path}) to {out}")
  return meta


# ---- command line ----------------------------------------------------------------------------------------

def define_flags(fv, argv) -> None:
  flags.DEFINE_string("workdir", None, "Training run folder (config.json, checkpoints/).", flag_values=fv)
  flags.DEFINE_string("out", None, "Export folder (absent or empty unless --overwrite).", flag_values=fv)
  flags.DEFINE_bool("overwrite", False, "Replace a non-empty --out.", flag_values=fv)
  flags.DEFINE_string("class_names", None, "Text file with one class name per line, in label order.",
                      flag_values=fv)
  flags.DEFINE_bool("xla", False, "XLA-compile the generator in the SavedModel (input checks stay outside).",
                    flag_values=fv)
  flags.DEFINE_integer("standing_stats_batches", None,
                       "Standing statistics of G_ema over this many batches (0 = off); default: the config's "
                       "eval.standing_stats_batches.", flag_values=fv)
  flags.DEFINE_integer("max_batch_size", DEFAULT_MAX_BATCH_SIZE,
                       "Most videos one call of a signature serves; a larger batch is refused before anything "
                       "is allocated.", lower_bound=1, flag_values=fv)
  flags.DEFINE_integer("max_latents", DEFAULT_MAX_LATENTS,
                       "Most rows one call of the latents signature draws.", lower_bound=1, flag_values=fv)
  experiments.DEFINE_config(
      fv, argv, help_string="Experiment (a name or a .py file) replacing <workdir>/config.json, with "
                            "--config.key=value overrides.")


def body(fv, args) -> None:
  command.require(fv, "workdir", "out")
  names = read_class_names(fv.class_names) if fv.class_names else None
  export(fv.workdir, fv.out, config=fv.config, overwrite=fv.overwrite, class_names=names, xla=fv.xla,
         standing_stats_batches=fv.standing_stats_batches, max_batch_size=fv.max_batch_size,
         max_latents=fv.max_latents, log=lambda s: print(s, flush=True))


def main(argv=None) -> int:
  """`dvd-gan-export` / `python -m dvd_gan.export`: returns the exit status (0 ok, 2 bad input)."""
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


def run() -> None:
  """Console entry point (setup.py: dvd-gan-export)."""
  command.run(main)


if __name__ == "__main__":
  run()
