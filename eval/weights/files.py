"""File helpers for weights: sha256 checks, the package's cache folder and atomic .npz writes."""
import hashlib
import os
import tempfile

import numpy as np

from eval.errors import EvalError

CACHE_ENV = "VIDEO_EVAL_CACHE"


def sha256_file(path):
  """Returns the hex sha256 of the file at `path` (EvalError if it cannot be read)."""
  return sha256_files([path])


def sha256_files(paths):
  """Returns one hex sha256 over the contents of `paths` in the given order (for multi-file checkpoints)."""
  digest = hashlib.sha256()
  for path in paths:
    try:
      with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
          digest.update(chunk)
    except OSError as e:
      raise EvalError(f"cannot read weights file {path}: {e.strerror}") from None
  return digest.hexdigest()


def verify_sha256(path, expected):
  """Returns the sha256 of `path`; raises EvalError if `expected` is given and differs."""
  actual = sha256_file(path)
  if expected is not None and actual != expected.lower():
    raise EvalError(f"sha256 mismatch for weights file {path}: expected {expected}, got {actual}")
  return actual


def cache_dir():
  """The package's cache folder: $VIDEO_EVAL_CACHE, else ~/.cache/video_eval (not created here)."""
  return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "video_eval")


def save_npz_atomic(path, arrays):
  """Writes the dict `arrays` of numpy arrays to `path` as .npz via a temporary file and a rename."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
  try:
    with os.fdopen(fd, "wb") as f:
      np.savez(f, **arrays)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def load_npz(path):
  """Reads an .npz of plain arrays (pickles refused) into a dict; EvalError if unreadable."""
  try:
    with np.load(path, allow_pickle=False) as data:
      return {k: data[k] for k in data.files}
  except (OSError, ValueError) as e:
    raise EvalError(f"cannot read weights file {path}: {e}") from None
