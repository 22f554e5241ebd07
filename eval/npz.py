"""The one reader of `.npz` archives (statistics, stored features, video arrays, weights), on any filesystem.

`np.load` of an .npz is lazy: it opens the zip directory, and only reading a member decompresses it and
checks its CRC-32. A reader that stops at `np.load` therefore lets a bit-flipped file through to wherever the
member is first used, and a truncated or foreign file raises `zipfile.BadZipFile` (not an OSError or a
ValueError) with a traceback. `load` reads every member inside one `try`, so whatever is wrong with the file
(truncated, a flipped bit, not a zip, a zip of something other than arrays, pickled object arrays) is ONE
`EvalError` line that names the file, raised before the caller uses any of it. Pickles are never loaded
(`allow_pickle=False`).
"""
import zipfile
import zlib

import numpy as np

from eval import io as eio
from eval.errors import EvalError, one_line


def load(path: str, what: str = "array file") -> dict:
  """{name: array} of every member of the .npz at `path`, each read in full (so its CRC-32 is checked).

  Args:
    path: the archive (any filesystem).
    what: what the file is to the caller, for the message ("statistics file", "weights file", ...).
  Raises:
    EvalError: `cannot read <what> <path>: <reason>` for a missing, truncated, corrupt or foreign file.
  """
  with _archive(path, what) as data:
    member = None
    try:
      arrays = {}
      for member in data.files:
        arrays[member] = _array(data, member, path, what)
      return arrays
    except EvalError:
      raise
    except _read_errors() as e:
      raise EvalError(f"cannot read {what} {path}: member {member!r} is corrupt ({one_line(e)})") from None


def member_names(path: str, what: str = "array file") -> list:
  """The names of the arrays of the .npz at `path` (its zip directory only: no member is read).

  Raises:
    EvalError: as `load`, for a file that is not a readable zip archive.
  """
  with _archive(path, what) as data:
    return list(data.files)


class _archive:
  """`with _archive(path, what) as data:` the open NpzFile, or the EvalError of `load`."""

  def __init__(self, path, what):
    self.path, self.what = path, what
    self.file = self.data = None

  def __enter__(self):
    try:
      self.file = eio.open(self.path, "rb")
      data = np.load(self.file, allow_pickle=False)
    except _read_errors() as e:
      self._close()
      raise EvalError(f"cannot read {self.what} {self.path}: {_open_reason(e)}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):  # a single .npy array under an .npz name
      self._close()
      raise EvalError(f"cannot read {self.what} {self.path}: not an .npz archive (a single .npy array)")
    self.data = data
    return data

  def __exit__(self, *exc):
    self._close()
    return False

  def _close(self):
    if self.data is not None:
      self.data.close()
    if self.file is not None:
      self.file.close()


def _array(data, member, path, what) -> np.ndarray:
  value = data[member]
  if not isinstance(value, np.ndarray):  # NpzFile returns the raw bytes of a member that is not a .npy
    raise EvalError(f"cannot read {what} {path}: member {member!r} is not a numpy array (not an .npz of arrays)")
  return value


def _read_errors() -> tuple:
  """What a damaged archive raises: zipfile's BadZipFile (no zip directory, bad CRC-32, bad headers), zlib's
  error (a damaged deflate stream), ValueError / EOFError (a damaged .npy header or short data, pickles
  refused), NotImplementedError (an unknown compression method) and the file system's errors."""
  return (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, ValueError, EOFError, NotImplementedError,
          *eio.io_errors())


def _open_reason(e: BaseException) -> str:
  if isinstance(e, (zipfile.BadZipFile, EOFError)):
    return f"not a complete .npz archive (truncated, or another format): {one_line(e)}"
  return one_line(e)


