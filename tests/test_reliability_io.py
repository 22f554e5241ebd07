"""Fault injection on what the project reads and serves: damaged .npz files, a SavedModel asked for too much,
and a Kinetics build whose decoder workers crash or hang.

Each test damages one thing and checks the documented outcome (docs/reliability.md): a one-line error that
names the file, a refusal before any allocation, or a clip counted as unreadable while the build goes on.
"""
import pickle
import zipfile

import numpy as np
import pytest

from eval import cli, npz, video_io
from eval.errors import EvalError
from eval.stats import FeatureStats
from eval.weights import files as weight_files


# ---- damaged .npz files --------------------------------------------------------------------------------

def _io_stats(path, n=6, d=5, store_features=False):
  """Writes a statistics file of n random features [n, d] (metadata of I3D logits, 6 frames)."""
  stats = FeatureStats(store_features=store_features,
                       metadata={"network": "i3d-kinetics-400", "layer": "logits", "frames": 6})
  stats.append(np.random.default_rng(0).normal(size=(n, d)))
  stats.save(str(path))
  return str(path)


def _io_videos(path):
  np.savez(path, a=np.zeros([2, 4, 8, 8, 3], np.uint8))
  return str(path)


def _io_weights(path):
  np.savez(path, **{"conv/w": np.ones([3, 3], np.float32), "conv/b": np.zeros([3], np.float32)})
  return str(path)


def _io_truncate(path, keep=0.6):
  data = open(path, "rb").read()
  with open(path, "wb") as f:
    f.write(data[:int(len(data) * keep)])
  return path


def _io_flip_member_bit(path, member):
  """Flips one bit inside the stored (uncompressed) data of `member`: the zip directory stays intact, only
  the member's CRC-32 no longer matches."""
  with zipfile.ZipFile(path) as z:
    info = z.getinfo(member)
  data = bytearray(open(path, "rb").read())
  name_len, extra_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
      int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
  start = info.header_offset + 30 + name_len + extra_len
  data[start + info.compress_size - 1] ^= 0x01  # the last byte: array data, past the .npy header
  with open(path, "wb") as f:
    f.write(bytes(data))
  return path


def _io_readers():
  """{kind: (writer, reader)}: every reader of .npz files the project has."""
  return {
      "stats": (_io_stats, FeatureStats.load),
      "features": (lambda p: _io_stats(p, store_features=True), FeatureStats.load),
      "videos": (_io_videos, lambda p: list(video_io.iter_videos(p))),
      "weights": (_io_weights, weight_files.load_npz),
  }


@pytest.mark.parametrize("kind", ["stats", "features", "videos", "weights"])
def test_truncated_npz_is_one_line_error_naming_the_file(tmp_path, kind):
  """A truncated .npz, read by each of the project's readers, is one EvalError line naming the file
  (not zipfile.BadZipFile); the intact file reads."""
  write, read = _io_readers()[kind]
  path = write(str(tmp_path / f"{kind}.npz"))
  read(path)
  _io_truncate(path)
  with pytest.raises(EvalError) as e:
    read(path)
  message = str(e.value)
  assert path in message and "\n" not in message and "truncated" in message


@pytest.mark.parametrize("kind", ["stats", "features", "videos", "weights"])
def test_bit_flipped_member_is_caught_at_load(tmp_path, kind):
  """One flipped bit in a member's data fails its CRC-32 inside the loader (every member is read there),
  as one EvalError line naming the file and the member, whichever member the caller would use."""
  write, read = _io_readers()[kind]
  path = write(str(tmp_path / f"{kind}.npz"))
  member = {"stats": "sum_outer.npy", "features": "features.npy", "videos": "a.npy", "weights": "conv/b.npy"}[kind]
  _io_flip_member_bit(path, member)
  with pytest.raises(EvalError) as e:
    read(path)
  message = str(e.value)
  assert path in message and member[:-4] in message and "CRC" in message and "\n" not in message


def test_foreign_files_are_one_line_errors(tmp_path):
  """Not a zip, a zip of text, a single .npy under an .npz name, and pickled object arrays: each is one
  EvalError line naming the file; no pickle is loaded."""
  cases = {}
  cases["text"] = tmp_path / "text.npz"
  cases["text"].write_text("hello, not an archive\n" * 10)
  cases["zip_of_text"] = tmp_path / "zip.npz"
  with zipfile.ZipFile(cases["zip_of_text"], "w") as z:
    z.writestr("readme.txt", "no arrays here")
  cases["npy"] = tmp_path / "single.npz"
  with open(cases["npy"], "wb") as f:
    np.save(f, np.zeros(3))
  cases["pickle"] = tmp_path / "pickle.npz"
  cases["pickle"].write_bytes(pickle.dumps({"a": 1}))
  cases["object_array"] = tmp_path / "objects.npz"
  np.savez(cases["object_array"], a=np.array([{"x": 1}, None], dtype=object))
  for name, path in cases.items():
    with pytest.raises(EvalError) as e:
      npz.load(str(path))
    assert str(path) in str(e.value) and "\n" not in str(e.value), name
  with pytest.raises(EvalError, match="not a numpy array"):
    npz.load(str(cases["zip_of_text"]))
  with pytest.raises(EvalError, match="allow_pickle"):
    npz.load(str(cases["object_array"]))


def test_cli_truncated_stats_file_exit_2_one_error_line(tmp_path, capsys):
  """`python -m eval fvd` (eval.cli.main, in-process: the same code path without a second TensorFlow start)
  with a truncated statistics file ends with exit status 2 and one `error:` line naming the file."""
  real = _io_truncate(_io_stats(tmp_path / "real.npz"))
  fake = _io_stats(tmp_path / "fake.npz")
  status = cli.main(["eval", "fvd", f"--real={real}", f"--fake={fake}"])
  err = capsys.readouterr().err
  assert status == 2, err
  assert len(err.splitlines()) == 1 and err.startswith("error: ") and real in err, err
