"""Full-state checkpoints: G, DS, DT, G_ema, both optimisers, the step, the seed generator, data position.

tf.train.CheckpointManager keeps the last `keep` checkpoints under `<workdir>/checkpoints`. TensorFlow
writes a checkpoint's files under temporary names and renames them, and the manager updates its
`checkpoint` index file only after the data is complete, so a kill during a save leaves the previous
checkpoint as the latest one.

Data position: tf.distribute's distributed iterators are not checkpointable (MirroredStrategy and others), so
the number of per-replica batches consumed is stored (`batches_consumed` = step * d_steps_per_g_step, + step
for DVD-GAN-FP, whose G update reads a batch of its own: `Trainer.batches_per_step`) and a
resumed run skips that many batches of its (deterministic, seeded) input pipeline.

Paths may be on any filesystem TensorFlow knows (`gs://...`): the manager writes through tf.io.gfile.

The state file `checkpoints/checkpoint` (the manager's list of kept checkpoints, newest last) is read and
written here too (`read_state`, `write_state`), apart from TensorFlow's reader, which answers "no checkpoint"
for a garbled file and for storage that does not answer alike; `checkpoint_numbers` finds the checkpoints by
their files.
"""
import os
import re

import tensorflow as tf
from google.protobuf import text_format

from dvd_gan.errors import UserError
from dvd_gan.training import worker_dirs
from eval import io as eio
from eval.errors import one_line


def model_variables(model) -> dict:
  """Every variable of a built Keras model, keyed by position and leaf name: {"v0007_u": u, ...}.

  Keras 3 keeps sub-layers held in Python lists (e.g. the generator's residual blocks) in its own tracker,
  which tf.train.Checkpoint does not traverse: `tf.train.Checkpoint(G=G)` silently leaves those variables
  out (their weights, spectral-norm `u`, batch-norm moving statistics). Checkpointing this dict instead
  saves all of them; the keys depend only on the architecture (the order of `model.weights`), so a model
  rebuilt from the same config in another process restores them. To restore one model, e.g. G_ema:
  `tf.train.Checkpoint(G_ema=model_variables(G_ema)).restore(path).expect_partial()`.
  """
  out = {}
  for i, v in enumerate(model.weights):
    leaf = v.name.split("/")[-1].split(":")[0]
    out[f"v{i:04d}_{leaf}"] = v
  return out


def make_checkpoint(trainer) -> tf.train.Checkpoint:
  """The checkpoint object of a Trainer's full state (models as `model_variables` dicts)."""
  return tf.train.Checkpoint(
      G=model_variables(trainer.G), DS=model_variables(trainer.DS), DT=model_variables(trainer.DT),
      G_ema=model_variables(trainer.G_ema),
      g_opt=trainer.g_opt, d_opt=trainer.d_opt, step=trainer.step, rng=trainer.rng)


def checkpoint_dir(workdir: str) -> str:
  return eio.join(workdir, "checkpoints")


def make_manager(checkpoint, workdir: str, keep: int, is_chief: bool = True,
                 task: str | None = None) -> tf.train.CheckpointManager:
  """CheckpointManager in `<workdir>/checkpoints`; non-chief workers write to a private temporary folder
  (MultiWorkerMirroredStrategy needs every worker to take part in the save), named by their task
  (`worker_dirs.worker_dir`; the process id when the task is not known)."""
  directory = checkpoint_dir(workdir)
  if not is_chief:
    directory = worker_dirs.worker_dir(workdir, task or str(os.getpid()))
  return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=int(keep))


# ---- the checkpoints folder: files and state file ---------------------------------------------------------

STATE_FILE = "checkpoint"
_FILE = re.compile(r"^ckpt-([0-9]+)\.(index|data-[0-9]+-of-[0-9]+)$")


def checkpoint_numbers(directory: str) -> dict:
  """{N: sorted file names} of the checkpoints `ckpt-N` with at least one file (`.index` or a data shard) in
  `directory` ({} when there is none or no folder). Temporary files of an unfinished save do not count."""
  try:
    paths = eio.glob(eio.join(directory, "ckpt-*"))
  except (tf.errors.NotFoundError, FileNotFoundError):  # other storage errors propagate: "none" would restart
    return {}
  out = {}
  for path in paths:
    m = _FILE.match(eio.basename(path))
    if m:
      out.setdefault(int(m.group(1)), []).append(m.group(0))
  return {n: sorted(names) for n, names in out.items()}


def number(prefix: str) -> int | None:
  """N of a checkpoint path prefix `.../ckpt-N` (None for another name)."""
  m = re.fullmatch(r"ckpt-([0-9]+)", eio.basename(prefix))
  return int(m.group(1)) if m else None


def unreadable(what: str, e: BaseException) -> UserError:
  """The one-line error of a storage that does not answer while a run's checkpoints are looked at: nothing
  was changed, and a run must not start over them (`what`: the folder or checkpoint, as the user sees it)."""
  return UserError(f"cannot read {what}: {type(e).__name__}: {one_line(e, 200)}; nothing was changed: run again "
                   "once the storage answers")


def _state_proto():
  """An empty tf.train.CheckpointState (TensorFlow has no public name for its class)."""
  return type(tf.compat.v1.train.generate_checkpoint_state_proto("/", "x"))()


def read_state(directory: str):
  """(state, problem) of `<directory>/checkpoint`: (tf.train.CheckpointState with full paths, None), or
  (None, why it gives no checkpoint: "is missing" | "is unreadable (...)").

  The file is read and parsed here, not by tf.train.get_checkpoint_state, which answers None for every
  storage error too: a storage error (unavailable, permission denied, ...) is not a garbled file and
  propagates (tf.errors.OpError / OSError) so that the caller changes nothing.
  """
  path = eio.join(directory, STATE_FILE)
  try:
    text = eio.read_text(path)
  except (tf.errors.NotFoundError, FileNotFoundError):
    return None, "is missing"
  except UnicodeDecodeError as e:
    return None, f"is unreadable ({one_line(e, 120)})"
  state = _state_proto()
  try:
    text_format.Merge(text, state)
  except text_format.ParseError as e:
    return None, f"is unreadable ({one_line(e, 120)})"
  if not state.model_checkpoint_path:
    return None, "is unreadable (it names no checkpoint)"

  def full(p):  # as tf.train.get_checkpoint_state: relative names are in `directory`
    return p if eio.has_scheme(p) or os.path.isabs(p) else eio.join(directory, p)
  state.model_checkpoint_path = full(state.model_checkpoint_path)
  paths = [full(p) for p in state.all_model_checkpoint_paths]
  del state.all_model_checkpoint_paths[:]
  state.all_model_checkpoint_paths.extend(paths)
  return state, None


def write_state(directory: str, prefixes, timestamps, last_preserved: float) -> None:
  """Writes `<directory>/checkpoint` (atomically) naming `prefixes` (oldest first; the last one is the
  latest) as the kept checkpoints, with their save times `timestamps`: what tf.train.CheckpointManager reads
  to know which checkpoint is the latest and which ones it may delete (those saved after
  `last_preserved`)."""
  here = eio.dirname(eio.join(directory, STATE_FILE))
  names = [eio.basename(p) if eio.dirname(p) == here else p for p in prefixes]  # relative, as the manager's
  proto = tf.compat.v1.train.generate_checkpoint_state_proto(
      "/", names[-1], all_model_checkpoint_paths=list(names),  # "/": names are kept as given (relative)
      all_model_checkpoint_timestamps=[float(t) for t in timestamps], last_preserved_timestamp=float(last_preserved))
  eio.write_text(eio.join(directory, STATE_FILE), str(proto))


def read_checkpoint(prefix: str):
  """A reader (`get_tensor(name)`, `get_variable_to_shape_map()`) of the checkpoint at path prefix `prefix`.

  tf.train.load_checkpoint / list_variables first ask whether `prefix` is a folder and, if so, read the newest
  checkpoint in it; filesystems that answer by prefix (ram://, where `ckpt-4` is a "folder" because
  `ckpt-4.index` exists) then fail. The reader itself takes the prefix as it is.
  """
  return tf.compat.v1.train.NewCheckpointReader(str(prefix))
