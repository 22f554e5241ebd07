"""Reading a training run folder: its config, its checkpoints, and G_ema restored from one of them.

A run folder (written by dvd_gan.training.loop) holds config.json (the resolved config), checkpoints/ (the
rolling full-state checkpoints) and, when the run evaluated during training, checkpoints_best/ (the best
G_ema by the main metric, dvd_gan.evaluation.best_checkpoint). Every tool that starts from a run (export,
sample, predict, evaluate) reads it through this module:

    run = run_folder.open_run(workdir, "last" | "best" | step, standing_stats=True)
    run.config, run.checkpoint, run.step, run.generator

Only the generator is built (in float32, from the run's config): the discriminators are neither built nor
restored. Problems are one-line `UserError`s, which the commands print and exit 2 on.
"""
import dataclasses
import re
from typing import Optional

import ml_collections
import tensorflow as tf

from eval import io as eio
from eval.command import first_line
from dvd_gan.errors import UserError
from dvd_gan import legacy
from dvd_gan import standing_stats
from dvd_gan.data import synthetic
from dvd_gan.models import build
from dvd_gan.models.prediction_generator import trace_generator
from dvd_gan.training import checkpointing
from dvd_gan.training import precision
import tensorflow_datasets as tfds

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
BEST_DIR = "checkpoints_best"
CHECKPOINT_CHOICES = ("last", "best")




# ---- config ----------------------------------------------------------------------------------------------

def load_config(workdir: str, *, not_found: Optional[str] = None) -> ml_collections.ConfigDict:
  """The resolved config a training run wrote to `<workdir>/config.json`.

  not_found: the message's text after "<path> not found: " (the commands say what to do differently)."""
  path = eio.join(workdir, CONFIG_FILE)
  if not eio.isfile(path):
    raise UserError(f"{path} not found: " + (not_found or "not a training run folder (pass "
                                                   "--config=NAME_OR_FILE to give the run's config)"))
  try:
    return ml_collections.ConfigDict(eio.read_json(path))
  except (ValueError, *eio.io_errors()) as e:
    raise UserError(f"cannot read {path}: {first_line(e)}") from None


def num_conditioning_frames(config) -> int:
  """C of a DVD-GAN-FP run (`data.num_conditioning_frames`), 0 for synthesis."""
  return int(config.data.get("num_conditioning_frames", 0))


def default_class_names(config) -> Optional[list]:
  """Class names of the configured dataset in label order, when known offline; None otherwise.

  synthetic: dvd_gan.data.synthetic.CLASS_NAMES; ucf101: the label list bundled with tensorflow-datasets
  (the labels TFDS assigns); video_folder: the folder's class folders (data.class_names, filled by the run);
  kinetics600 (names come from the prepared dataset's annotations) and unconditional datasets: None (give
  them with --class_names).
  """
  name = config.data.name
  if name == "video_folder":
    return list(config.data.get("class_names", ()) or ()) or None
  if name == "synthetic":
    return list(synthetic.CLASS_NAMES)
  if name == "ucf101":
    try:
      path = eio.join(str(tfds.core.tfds_path()), "video", "ucf101_labels.txt")
      return [line.strip() for line in eio.read_text(path).splitlines() if line.strip()]
    except Exception:
      return None
  return None


# ---- checkpoints -----------------------------------------------------------------------------------------

def checkpoint_dir(workdir: str) -> str:
  """`<workdir>/checkpoints`: the rolling full-state checkpoints."""
  return eio.join(workdir, CHECKPOINT_DIR)


def best_dir(workdir: str) -> str:
  """`<workdir>/checkpoints_best`: the best checkpoint by the main metric."""
  return eio.join(workdir, BEST_DIR)


def best_checkpoint_path(workdir: str) -> Optional[str]:
  """Path prefix of the best checkpoint of `workdir`, or None."""
  return tf.train.latest_checkpoint(best_dir(workdir))


def read_checkpoint(prefix: str):
  """A reader (`get_tensor(name)`, `get_variable_to_shape_map()`) of the checkpoint at path prefix `prefix`.

  tf.train.load_checkpoint / list_variables first ask whether `prefix` is a folder and, if so, read the newest
  checkpoint in it; filesystems that answer by prefix (ram://, where `ckpt-4` is a "folder" because
  `ckpt-4.index` exists) then fail. The reader itself takes the prefix as it is.
  """
  return tf.compat.v1.train.NewCheckpointReader(str(prefix))


def latest_checkpoint(workdir: str) -> str:
  """Path prefix of the newest checkpoint in `<workdir>/checkpoints`; UserError if there is none."""
  if not eio.isdir(workdir):
    raise UserError(f"--workdir {workdir} does not exist")
  directory = checkpoint_dir(workdir)
  latest = tf.train.latest_checkpoint(directory) if eio.isdir(directory) else None
  if latest is None:
    raise UserError(f"no checkpoint in {directory}: train first (python -m dvd_gan.train --workdir=...)")
  return latest


def resolve_checkpoint(workdir: str, which: Optional[str]) -> tuple:
  """(checkpoint path prefix, "best" | "last" | "step N") for `which` = "best" (checkpoints_best/), "last"
  (the newest of checkpoints/), a step number (either folder) or None (best when there is one, else last)."""
  if not eio.isdir(workdir):
    raise UserError(f"--workdir {workdir} does not exist")
  best, last = best_checkpoint_path(workdir), tf.train.latest_checkpoint(checkpoint_dir(workdir))
  which = None if which is None else str(which)
  if which is None:
    which = "best" if best else "last"
  if which == "best":
    if best is None:
      raise UserError(f"no best checkpoint in {best_dir(workdir)}: the run had no evaluation during "
                      "training (eval.every_steps); use --checkpoint=last")
    return best, "best"
  if which == "last":
    if last is None:
      raise UserError(f"no checkpoint in {checkpoint_dir(workdir)}: train first")
    return last, "last"
  if not re.fullmatch(r"[0-9]+", which):
    raise UserError(f"--checkpoint must be best, last or a step number, got {which!r}")
  for folder in (checkpoint_dir(workdir), best_dir(workdir)):
    prefix = eio.join(folder, f"ckpt-{int(which)}")
    if eio.exists(prefix + ".index"):
      return prefix, f"step {int(which)}"
  steps = sorted({int(m.group(1)) for folder in (checkpoint_dir(workdir), best_dir(workdir))
                  for f in (eio.glob(eio.join(folder, "ckpt-*.index")) if eio.isdir(folder) else [])
                  for m in [re.search(r"ckpt-([0-9]+)\.index$", f)] if m})
  raise UserError(f"no checkpoint of step {which} in {workdir}; steps available: "
                  f"{', '.join(map(str, steps)) or 'none'}")


def checkpoint_step(checkpoint_path: str) -> int:
  """The training step stored in a full-state checkpoint (its `step` variable)."""
  try:
    reader = read_checkpoint(checkpoint_path)
    return int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))
  except (tf.errors.OpError, ValueError, KeyError):
    raise UserError(f"{checkpoint_path} holds no 'step' variable: not a dvd_gan training checkpoint") \
        from None


# ---- the generator ---------------------------------------------------------------------------------------

def build_generator(config):
  """G's architecture for `config` in float32 with its variables created (values to be restored).

  The variables are initialised cheaply (`fast_init("zeros")`): every one of them is overwritten by the
  checkpoint, and `restore_ema_generator` checks that none is left out. DS and DT are never built.
  """
  with precision.policy_scope("float32"), build.fast_init("zeros"):
    generator = build.make_generator(config)
    trace_generator(generator)
  return generator


def _g_ema_keys(checkpoint_path: str) -> list:
  """Names of the G_ema variable values stored in a checkpoint."""
  names = read_checkpoint(checkpoint_path).get_variable_to_shape_map()
  return sorted(name for name in names
                if name.startswith("G_ema/") and name.endswith("/.ATTRIBUTES/VARIABLE_VALUE"))


def restore_ema_generator(config, checkpoint_path: str):
  """G_ema of the checkpoint at `checkpoint_path`, rebuilt from `config` (UserError on a mismatch).

  Checkpoints store each model as `dvd_gan.training.checkpointing.model_variables(model)` (every variable,
  keyed by its position in `model.weights`); a checkpoint of the Keras model object itself is read too.
  Either way every variable of the generator must receive a stored value: Keras 3 does not show sub-layers
  held in Python lists to tf.train.Checkpoint, so a model-object checkpoint can silently lack them, and such
  a checkpoint is refused rather than used with initial weights.
  """
  try:
    generator = build_generator(config)
  except ValueError as e:
    raise UserError(f"cannot build the generator of this config: {str(e).splitlines()[0]}") from None
  keys = _g_ema_keys(checkpoint_path)
  if len(keys) != len(generator.weights):
    raise UserError(
        f"{checkpoint_path} holds {len(keys)} G_ema variables but the config's generator has "
        f"{len(generator.weights)}: a different config, or a checkpoint written without all of G_ema's "
        "variables (train again with the current dvd_gan)")
  target = generator if legacy.model_object_checkpoint(keys) else checkpointing.model_variables(generator)
  try:
    status = tf.train.Checkpoint(G_ema=target).restore(checkpoint_path).expect_partial()
    status.assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.OpError) as e:
    raise UserError(f"the checkpoint's G_ema does not match the config's generator ({checkpoint_path}): "
                    f"{str(e).splitlines()[0][:300]}") from None
  return generator


def sampling_generator(generator, config, log=None):
  """The generator that samples for `config`: `generator`, or with `eval.standing_stats_batches` > 0 a copy
  of it with standing batch-norm statistics (dvd_gan.standing_stats); UserError when they cannot be
  computed."""
  try:
    return standing_stats.sampling_generator(generator, config, log=log)
  except ValueError as e:
    raise UserError(str(e).splitlines()[0]) from None


@dataclasses.dataclass
class Run:
  """A run folder opened at one checkpoint (`open_run`).

  Attributes:
    workdir: the run folder.
    config: its resolved config.
    checkpoint: path prefix of the checkpoint read.
    which: "best", "last" or "step N".
    step: the training step of the checkpoint.
    generator: G_ema restored from it (with standing statistics when asked), or None when not loaded.
  """
  workdir: str
  config: ml_collections.ConfigDict
  checkpoint: str
  which: str
  step: int
  generator: object = None


def open_run(workdir: str, checkpoint: Optional[str] = "last", *, config=None, load_generator: bool = True,
             standing_stats: bool = False, log=None) -> Run:
  """The run in `workdir` at `checkpoint` ("last", "best", a step number, or None: best if any, else last).

  Args:
    workdir: the run folder.
    checkpoint: which checkpoint (`resolve_checkpoint`; "last" is `latest_checkpoint`).
    config: the resolved config to use (e.g. `load_config(workdir)` already read and checked by the caller);
      None: `load_config(workdir)`.
    load_generator: restore G_ema (else `Run.generator` is None).
    standing_stats: replace G_ema by its copy with standing statistics when the config turns them on
      (`eval.standing_stats_batches` > 0).
    log: function printing one line (standing statistics' progress).
  """
  if config is None:
    config = load_config(workdir)
  if checkpoint == "last":
    path, which = latest_checkpoint(workdir), "last"
  else:
    path, which = resolve_checkpoint(workdir, checkpoint)
  run = Run(workdir=workdir, config=config, checkpoint=path, which=which, step=checkpoint_step(path))
  if load_generator:
    run.generator = restore_ema_generator(config, path)
    if standing_stats:
      run.generator = sampling_generator(run.generator, config, log=log)
  return run
