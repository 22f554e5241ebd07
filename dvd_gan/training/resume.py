"""Resuming a run: restore the newest checkpoint of `<workdir>/checkpoints` that restores, or refuse to start.

tf.train.latest_checkpoint trusts the state file `checkpoints/checkpoint`: when that file is garbled, or names
a checkpoint whose `.index` is gone, it answers "no checkpoint" and a run would start again at step 0 over the
old one; and a truncated or bit-flipped data file fails the restore without a try of the older checkpoints.
`restore_newest` instead restores

  1. the checkpoint the state file names, when the file is readable and that checkpoint restores;
  2. else the checkpoints found by their files (`ckpt-N.index`, `ckpt-N.data-*`), newest first, logging one
     line per checkpoint it skips and why;
  3. and when the folder holds checkpoint files (or a state file) of which none restores: UserError, with
     nothing written anywhere (the caller decides this before it writes anything into the workdir).

Only damaged files (TensorFlow's read errors, a truncated file) make it try an older checkpoint: a
checkpoint whose values do not fit the trainer's variables (another model shape) ends the resume at once with
a UserError saying so, as every older checkpoint of the run would not fit either.

After a fallback the chief rewrites the state file to name the restored checkpoint last, after the older ones
it listed (their save times kept), so the CheckpointManager made afterwards continues from there: it never
rotates a good older checkpoint away in favour of a broken newer one. The broken newer files are left for
inspection; the run replaces them when it saves the same step again.

A restore that fails part way may have written some variables already; the checkpoint restored after it
overwrites every variable: `assert_existing_objects_matched` fails unless every object of the trainer's
checkpoint received a value.

Storage that does not answer (unavailable, permission denied, ...) is not a broken checkpoint: the run stops
with a UserError and nothing changed, rather than falling back and redoing steps that are safely stored.
"""
import time

import tensorflow as tf

from dvd_gan.errors import UserError
from dvd_gan.training import checkpointing
from eval import io as eio
from eval.errors import one_line


def _unreachable_errors() -> tuple:
  """Errors of storage that may answer later: the checkpoint may be fine."""
  e = tf.errors
  return (e.UnavailableError, e.DeadlineExceededError, e.PermissionDeniedError, e.UnauthenticatedError,
          e.ResourceExhaustedError, e.AbortedError, e.CancelledError)


def _broken_errors() -> tuple:
  """What a restore raises on broken files: TensorFlow's errors (a checksum mismatch, a truncated index, a
  missing shard) and IndexError ("Read less bytes than requested": a truncated data file)."""
  return (tf.errors.OpError, IndexError)


def _misfit_errors() -> tuple:
  """What a restore raises on whole files that do not fit the trainer's variables (another shape, missing
  objects): ValueError, AssertionError. An older checkpoint of the same run would not fit either."""
  return (ValueError, AssertionError)


def _why(e: BaseException) -> str:
  """A short one-line reason out of a restore error, with its type (TensorFlow's run over several lines)."""
  return f"{type(e).__name__}: {one_line(e, 200)}"


def _try_restore(checkpoint, prefix: str) -> str | None:
  """Restores `prefix` into `checkpoint`; None on success, else why it does not restore."""
  try:
    if not eio.exists(prefix + ".index"):
      found = checkpointing.checkpoint_numbers(eio.dirname(prefix + ".index")).get(checkpointing.number(prefix))
      return "its .index file is missing" if found else "its files are missing"
  except eio.io_errors() as e:  # a storage error while looking for its files: they may be fine
    raise checkpointing.unreadable(f"checkpoint {prefix}", e) from None
  try:
    checkpoint.restore(prefix).assert_existing_objects_matched()
  except _unreachable_errors() as e:
    raise checkpointing.unreadable(f"checkpoint {prefix}", e) from None
  except _broken_errors() as e:
    return _why(e)
  except _misfit_errors() as e:
    raise UserError(f"checkpoint {prefix} does not fit the model of this config ({_why(e)}); resume with the "
                    "run's config.json values, or remove the shape key from train.allow_config_change") from None
  return None


def _rewrite_state(directory: str, restored: str, state, numbers: dict) -> None:
  """Makes `restored` the latest checkpoint of the state file, after the older ones still on disk (from the
  old state file when it was readable, else from the files; their save times kept when known)."""
  n, clock = checkpointing.number(restored), time.time()
  if state is not None:
    stamps = list(state.all_model_checkpoint_timestamps) or [state.last_preserved_timestamp + 1] * len(
        state.all_model_checkpoint_paths)
    listed = dict(zip(state.all_model_checkpoint_paths, stamps))
    last_preserved = state.last_preserved_timestamp
  else:
    listed = {eio.join(directory, f"ckpt-{k}"): clock for k in sorted(numbers)}
    last_preserved = clock - 1.0  # after it: the manager may rotate them away as usual
  older = [(p, t) for p, t in listed.items()
           if (checkpointing.number(p) or 0) < n and eio.exists(p + ".index")]
  older.sort(key=lambda item: checkpointing.number(item[0]))
  kept = older + [(restored, listed.get(restored, clock))]
  checkpointing.write_state(directory, [p for p, _ in kept], [t for _, t in kept], last_preserved)


def restore_newest(checkpoint, workdir: str, *, chief: bool = True, log=print) -> str | None:
  """Restores the newest checkpoint of `<workdir>/checkpoints` that restores (module docstring).

  Args:
    checkpoint: the trainer's tf.train.Checkpoint (`checkpointing.make_checkpoint`).
    workdir: the run folder.
    chief: whether this process may rewrite the state file (the other workers of a multi-worker run only
      read; they reach the same checkpoint from the same files).
    log: function printing one line.

  Returns:
    The path prefix restored, or None for a fresh run (no checkpoint file and no state file).

  Raises:
    UserError: the folder holds checkpoint files and none of them restores (nothing was written), or its
      storage does not answer.
  """
  directory = checkpointing.checkpoint_dir(workdir)
  try:
    numbers = checkpointing.checkpoint_numbers(directory)
    state, problem = checkpointing.read_state(directory)
  except eio.io_errors() as e:  # not a missing or garbled file: the checkpoints may be fine
    raise checkpointing.unreadable(directory, e) from None
  if state is None and problem == "is missing" and not numbers:
    return None
  candidates = []
  if state is not None:
    candidates.append(state.model_checkpoint_path)
  elif numbers:
    log(f"{eio.join(directory, checkpointing.STATE_FILE)} {problem}: looking for the checkpoints by their files")
  candidates += [eio.join(directory, f"ckpt-{n}") for n in sorted(numbers, reverse=True)]
  skipped = []
  for prefix in dict.fromkeys(candidates):  # in order, once each
    why = _try_restore(checkpoint, prefix)
    if why is None:
      if chief and (state is None or state.model_checkpoint_path != prefix):
        _rewrite_state(directory, prefix, state, numbers)
      return prefix
    log(f"skipping checkpoint {prefix}: {why}")
    skipped.append(f"{eio.basename(prefix)}: {why}")
  if not skipped:
    skipped.append(f"{checkpointing.STATE_FILE} {problem}")
  raise UserError(
      f"no checkpoint in {directory} restores ({'; '.join(skipped)}); nothing was changed: put back a good copy "
      "of the folder, or move it away to start the run from step 0")
