"""File helpers for weights: sha256 checks, the package's cache folder and .npz reading (any filesystem)."""
import hashlib
import os

from eval import io as eio
from eval import npz
from eval.errors import EvalError, one_line

CACHE_ENV = "VIDEO_EVAL_CACHE"


def sha256_file(path):
  """Returns the hex sha256 of the file at `path` (EvalError if it cannot be read)."""
  return sha256_files([path])


def sha256_files(paths):
  """Returns one hex sha256 over the contents of `paths` in the given order (for multi-file checkpoints)."""
  digest = hashlib.sha256()
  for path in paths:
    try:
      with eio.open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
          digest.update(chunk)
    except eio.io_errors() as e:
      raise EvalError(f"cannot read weights file {path}: {_reason(e)}") from None
  return digest.hexdigest()


def verify_sha256(path, expected):
  """Returns the sha256 of `path`; raises EvalError if `expected` is given and differs."""
  actual = sha256_file(path)
  if expected is not None and actual != expected.lower():
    raise EvalError(f"sha256 mismatch for weights file {path}: expected {expected}, got {actual}")
  return actual


def cache_dir():
  """The package's cache folder: $VIDEO_EVAL_CACHE (any filesystem), else ~/.cache/video_eval (not created)."""
  return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "video_eval")


def load_npz(path):
  """Reads an .npz of plain arrays (pickles refused, every member CRC-checked) into a dict; EvalError if
  unreadable (eval.npz)."""
  return npz.load(path, "weights file")


def _reason(e: BaseException) -> str:
  """OSError: its strerror alone (the message names the file already); else `one_line`."""
  return " ".join(str(getattr(e, "strerror", None) or "").split()) or one_line(e)
