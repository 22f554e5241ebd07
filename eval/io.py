"""File access on every filesystem TensorFlow knows: local paths, `gs://`, `ram://`, ... (via `tf.io.gfile`).

Every file this project writes goes through `write_file` (or its `write_bytes` / `write_text` / `write_json`
shorthands): the content goes to a temporary name beside the target and is renamed over it, so a reader
never sees a half-written file, and a failure leaves no file behind.

Folders (a SavedModel export, a statistics folder) are written under a temporary prefix and published with
`publish_dir`. Object stores (GCS) have no atomic folder rename: there the rename is a copy of every file
followed by a delete, so `publish_dir` writes a marker file `COMPLETE` into the published folder as its very
last step. A reader knows a folder is complete when `is_complete(folder)` is true; a folder without the
marker is a crashed or unfinished publish.

Only `tf.io.gfile` is used (not `etils.epath`, which treats unknown schemes such as `ram://` as local paths).
TensorFlow is imported on first use, so `import eval.io` stays cheap.
"""
import io as _io
import json
import os
import posixpath
import tempfile
import uuid

import numpy as np

from eval.errors import one_line

COMPLETE_MARKER = "COMPLETE"


def _gfile():
  import tensorflow as tf  # noqa: PLC0415 - TensorFlow loads at the first file access, not at `import eval`
  return tf.io.gfile


def io_errors() -> tuple:
  """The exception types a failed read or write raises here: OSError (local files) and TensorFlow's
  tf.errors.OpError (NotFoundError, PermissionDeniedError, ... from tf.io.gfile). For `except` clauses."""
  import tensorflow as tf  # noqa: PLC0415 - as in _gfile
  return (OSError, tf.errors.OpError)


def has_scheme(path: str) -> bool:
  """True for `gs://...`, `ram://...` and other URL-like paths TensorFlow serves itself."""
  return "://" in str(path)


def join(base: str, *parts: str) -> str:
  """Joins path parts; `/` for paths with a scheme (`gs://b/x`), the OS separator for local ones."""
  base = str(base)
  return posixpath.join(base, *parts) if has_scheme(base) else os.path.join(base, *parts)


def dirname(path: str) -> str:
  path = str(path).rstrip("/") if has_scheme(path) else str(path)
  return posixpath.dirname(path) if has_scheme(path) else os.path.dirname(os.path.abspath(path))


def basename(path: str) -> str:
  return posixpath.basename(str(path).rstrip("/")) if has_scheme(path) else os.path.basename(str(path))


def exists(path: str) -> bool:
  return _gfile().exists(str(path))


def isdir(path: str) -> bool:
  return _gfile().isdir(str(path))


def isfile(path: str) -> bool:
  """True for an existing file (not a folder)."""
  g = _gfile()
  return g.exists(str(path)) and not g.isdir(str(path))


def missing_output_folder(path: str):
  """The folder that must exist before `path` can be written and does not, else None. Local paths: their
  parent folder. Object stores (`gs://...`) have no folders to create (a prefix without objects is not
  missing): always None."""
  if has_scheme(path):
    return None
  folder = dirname(path)
  return None if isdir(folder) else folder


def makedirs(path: str) -> None:
  """Creates `path` and its parents (no error if it exists)."""
  _gfile().makedirs(str(path))


def listdir(path: str) -> list[str]:
  """Names (not paths) in folder `path`, sorted; folder names carry no trailing slash."""
  return sorted(name.rstrip("/") for name in _gfile().listdir(str(path)))


def glob(pattern: str) -> list[str]:
  return sorted(_gfile().glob(str(pattern)))


def file_size(path: str) -> int:
  """Size of file `path` in bytes (one stat request on object stores)."""
  return int(_gfile().stat(str(path)).length)


def walk(path: str):
  """Like os.walk (top-down) on any filesystem: yields (folder, subfolder names, file names); as with
  os.walk, removing names from the yielded subfolder list in place skips those folders."""
  for folder, subdirs, files in _gfile().walk(str(path)):
    subdirs[:] = [d.rstrip("/") for d in subdirs]
    yield folder, subdirs, files


def open(path: str, mode: str = "rb"):
  """A file object (tf.io.gfile.GFile) for `path`; modes as the built-in open ("r", "rb", "w", "wb", "a")."""
  return _gfile().GFile(str(path), mode)


READ_CHUNK_BYTES = 16 << 20


def read_bytes(path: str) -> bytes:
  """The whole file, read in chunks until its end. GFile.read() without a size reads as many bytes as a
  second lookup of the path reports: when a writer replaces the file in between (write_file's rename) with
  a shorter one, that returns the old content cut short. Chunked reads stay with the file that was opened."""
  chunks = []
  with open(path, "rb") as f:
    while chunk := f.read(READ_CHUNK_BYTES):
      chunks.append(chunk)
  return b"".join(chunks)


def read_text(path: str) -> str:
  return read_bytes(path).decode("utf-8")


def read_json(path: str):
  return json.loads(read_text(path))


def remove(path: str) -> None:
  """Deletes a file or a whole folder (no error if it does not exist)."""
  g = _gfile()
  path = str(path)
  if not g.exists(path):
    return
  if g.isdir(path):
    g.rmtree(path)
  else:
    g.remove(path)


def copy(src: str, dst: str, overwrite: bool = True) -> None:
  _gfile().copy(str(src), str(dst), overwrite=overwrite)


def temporary_name(path: str) -> str:
  """A unique name beside `path` (same folder, same extension) to write to before renaming."""
  folder, name = dirname(path), basename(path)
  stem, ext = os.path.splitext(name)
  return join(folder, f".tmp-{stem}-{uuid.uuid4().hex[:12]}{ext}")


def write_file(path: str, write, *, binary: bool = True, make_parents: bool = True) -> str:
  """Writes `path` through a temporary file: calls `write(f)` on a file object, then renames over `path`.

  Args:
    path: target (any filesystem).
    write: `f -> None`, writing the content into the file object f.
    binary: whether f takes bytes (True) or str.
    make_parents: create the target's folder if it is missing (else a missing folder is a FileNotFoundError).
  Returns:
    `path`.
  """
  g = _gfile()
  folder = dirname(path)
  if not g.isdir(folder):
    if not make_parents:
      raise FileNotFoundError(f"output folder does not exist: {folder}")
    g.makedirs(folder)
  tmp = temporary_name(path)
  try:
    with g.GFile(tmp, "wb" if binary else "w") as f:
      write(f)
    g.rename(tmp, str(path), overwrite=True)
  except BaseException:
    if g.exists(tmp):
      g.remove(tmp)
    raise
  return str(path)


def write_local_then_publish(path: str, write_to_local_path) -> str:
  """For writers that need a real local file name (PyAV, Pillow, np.savez of a path): calls
  `write_to_local_path(local_tmp_path)` on a local temporary file with `path`'s extension, then copies the
  bytes to `path` through `write_file` (atomically, on any filesystem)."""
  ext = os.path.splitext(basename(path))[1]
  fd, local = tempfile.mkstemp(prefix=".tmp-", suffix=ext)
  os.close(fd)
  try:
    write_to_local_path(local)
    return write_bytes(path, read_bytes(local))
  finally:
    if os.path.exists(local):
      os.remove(local)


def write_bytes(path: str, data: bytes, **kwargs) -> str:
  return write_file(path, lambda f: f.write(data), **kwargs)


def write_text(path: str, text: str, **kwargs) -> str:
  return write_file(path, lambda f: f.write(text.encode("utf-8")), **kwargs)


def write_npz(path: str, arrays: dict, **kwargs) -> str:
  """`np.savez` of the dict `arrays` to `path`, atomically (the archive is built in memory: object-store
  files cannot seek while being written). Read it back with `eval.npz.load(path)`."""
  buffer = _io.BytesIO()
  np.savez(buffer, **arrays)
  return write_bytes(path, buffer.getvalue(), **kwargs)


def write_json(path: str, obj, **kwargs) -> str:
  """Pretty JSON (sorted keys; numpy values and other objects through `json_default`)."""
  return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=json_default) + "\n", **kwargs)


def append_line(path: str, line: str) -> None:
  """Appends one line (a JSON-lines record). Object stores cannot append: the file is rewritten whole,
  through a temporary name, so it is never left half-written."""
  old = read_bytes(path) if exists(path) else b""
  write_bytes(path, old + line.rstrip("\n").encode("utf-8") + b"\n")


RETRY_ATTEMPTS = 3  # tries of a write that may hit a passing storage error
RETRY_DELAY_SECONDS = 0.5  # before the second try; doubled before each further one


def retry(fn, *, attempts: int | None = None, delay: float | None = None, sleep=None):
  """`fn()`, tried up to `attempts` times while it raises a storage error (`io_errors()`: an object store's
  passing failure, a full or flaky disk), waiting `delay`, 2 * `delay`, ... seconds in between; the last
  error propagates. Only for writes that can simply be done again (whole files written through a temporary
  name). Defaults: RETRY_ATTEMPTS, RETRY_DELAY_SECONDS."""
  import time  # noqa: PLC0415 - only writers that retry need it
  sleep = time.sleep if sleep is None else sleep
  attempts = RETRY_ATTEMPTS if attempts is None else int(attempts)
  delay = RETRY_DELAY_SECONDS if delay is None else float(delay)
  for attempt in range(attempts):
    try:
      return fn()
    except io_errors():
      if attempt == attempts - 1:
        raise
      sleep(delay * 2 ** attempt)
  return None


def best_effort(fn, what: str, log=print, **retry_kwargs):
  """`retry(fn)`; when every try fails, logs one line `warning: <what> failed (N tries), skipped: <error>` and
  returns None instead of raising. For outputs a run can go on without (sample videos, TensorBoard events)."""
  try:
    return retry(fn, **retry_kwargs)
  except io_errors() as e:
    attempts = retry_kwargs.get("attempts") or RETRY_ATTEMPTS
    log(f"warning: {what} failed ({attempts} tries), skipped: {one_line(e)}")
    return None


def json_default(value):
  """The `default` of json.dumps for every JSON this project writes: numpy scalars as their Python value,
  numpy arrays as lists, anything else as `str`. One encoder, so that a value compares equal to itself once
  written and read back (e.g. a config on resume)."""
  item = getattr(value, "item", None)  # numpy scalars
  if callable(item):
    try:
      return item()
    except (TypeError, ValueError):
      pass
  tolist = getattr(value, "tolist", None)  # numpy arrays
  if callable(tolist):
    return tolist()
  return str(value)


def temporary_dir(final: str) -> str:
  """A fresh folder name beside `final` (not created) to build a folder in before `publish_dir`."""
  return join(dirname(final), f".tmp-{basename(final)}-{uuid.uuid4().hex[:12]}")


def publish_dir(tmp: str, final: str, *, overwrite: bool = False) -> str:
  """Moves the finished folder `tmp` to `final` and marks it complete (see the module docstring).

  Args:
    tmp: a folder written completely (usually from `temporary_dir(final)`).
    final: the published name. If it exists: replaced when `overwrite`, else FileExistsError. Local
      paths: the old folder is renamed aside, the new one renamed in, then the old one deleted (a reader
      sees the old folder, briefly nothing, or the new one). Object stores: the old folder's `COMPLETE`
      marker is deleted first, so from then on a reader knows it is not to be used, then the folder.
  Returns:
    `final`.
  """
  g = _gfile()
  tmp, final = str(tmp), str(final)
  old = None
  if g.exists(final):
    if not overwrite:
      raise FileExistsError(f"already exists: {final}")
    if has_scheme(final):
      remove(join(final, COMPLETE_MARKER))
      g.rmtree(final)
    else:
      old = join(dirname(final), f".old-{basename(final)}-{uuid.uuid4().hex[:12]}")
      g.rename(final, old)
  if has_scheme(tmp) or has_scheme(final):
    # Object stores have no folder rename (and ram://'s renames only the folder entry, not its files):
    # copy file by file, then delete the temporary prefix.
    _copy_tree(tmp, final)
    g.rmtree(tmp)
  else:
    g.rename(tmp, final)
  write_bytes(join(final, COMPLETE_MARKER), b"")
  if old is not None:
    g.rmtree(old)
  return final


def is_complete(folder: str) -> bool:
  """True when `folder` was published by `publish_dir` to the end (its `COMPLETE` marker exists)."""
  return exists(join(folder, COMPLETE_MARKER))


def _copy_tree(src: str, dst: str) -> None:
  g = _gfile()
  for folder, _, files in g.walk(src):
    rel = folder[len(src):].lstrip("/")
    target = join(dst, rel) if rel else dst
    g.makedirs(target)
    for name in files:
      g.copy(join(folder, name), join(target, name), overwrite=True)
