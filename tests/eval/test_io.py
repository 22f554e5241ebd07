"""eval.io: atomic writes and folder publishing on local paths and on a non-local filesystem (ram://)."""
import os
import uuid

import numpy as np
import pytest

from eval import io as eio


@pytest.fixture(params=["local", "ram"])
def root(request, tmp_path):
  if request.param == "local":
    return str(tmp_path)
  return f"ram://test_io_{uuid.uuid4().hex}"


def test_write_then_read_back_and_no_temporary_left(root):
  path = eio.join(root, "sub", "a.json")
  eio.write_json(path, {"b": 1, "a": [1, 2]})
  assert eio.read_json(path) == {"a": [1, 2], "b": 1}
  assert eio.listdir(eio.join(root, "sub")) == ["a.json"]  # the temporary name was renamed away


def test_failed_write_leaves_no_file(root):
  path = eio.join(root, "b.bin")

  def broken(f):
    f.write(b"half")
    raise RuntimeError("disk full")

  with pytest.raises(RuntimeError):
    eio.write_file(path, broken)
  assert not eio.exists(path)
  assert eio.listdir(root) == [] if eio.isdir(root) else True


def test_failed_overwrite_keeps_the_old_content(root):
  path = eio.join(root, "c.txt")
  eio.write_text(path, "old")
  with pytest.raises(ValueError):
    eio.write_file(path, lambda f: (_ for _ in ()).throw(ValueError("boom")))
  assert eio.read_text(path) == "old"


def test_a_file_replaced_while_it_is_read_is_read_whole(root, monkeypatch):
  """A reader that opened the file before a writer replaced it (write_file renames over it) with a shorter
  one gets the old content whole, never cut to the new length (a lock's heartbeat, a progress file)."""
  path = eio.join(root, "lock.json")
  old, new = {"heartbeat": 1796390918.0152478, "token": "a"}, {"heartbeat": 1796390918.5, "token": "a"}
  eio.write_json(path, old)
  real_open = eio.open

  class ReplacedAfterOpening:
    def __init__(self, f):
      self.f, self.replaced = f, False

    def read(self, *n):
      if not self.replaced:
        self.f.read(0)  # the file is open for reading from here on
        eio.write_json(path, new)
        self.replaced = True
      return self.f.read(*n)

    def __enter__(self):
      self.f.__enter__()
      return self

    def __exit__(self, *exc):
      return self.f.__exit__(*exc)

  monkeypatch.setattr(eio, "open", lambda p, mode="rb": ReplacedAfterOpening(real_open(p, mode)))
  assert eio.read_json(path) == old
  monkeypatch.undo()
  assert eio.read_json(path) == new


def test_append_line_builds_a_jsonl_file(root):
  path = eio.join(root, "m.jsonl")
  eio.append_line(path, '{"step": 1}')
  eio.append_line(path, '{"step": 2}\n')
  assert eio.read_text(path) == '{"step": 1}\n{"step": 2}\n'


def test_publish_dir_moves_the_folder_and_marks_it_complete(root):
  final = eio.join(root, "export")
  tmp = eio.temporary_dir(final)
  eio.write_text(eio.join(tmp, "variables", "v.txt"), "x")
  assert not eio.is_complete(final)
  eio.publish_dir(tmp, final)
  assert eio.is_complete(final)
  assert not eio.exists(tmp)
  assert eio.read_text(eio.join(final, "variables", "v.txt")) == "x"
  with pytest.raises(FileExistsError):
    eio.publish_dir(eio.temporary_dir(final), final)


def test_write_local_then_publish_for_writers_that_need_a_local_name(root):
  path = eio.join(root, "d.txt")

  def writer(local):
    assert os.path.isabs(local) and local.endswith(".txt")
    with open(local, "w") as f:  # a library that only takes a local file name
      f.write("via local file")

  eio.write_local_then_publish(path, writer)
  assert eio.read_text(path) == "via local file"


def test_ram_paths_never_create_a_local_scheme_folder(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  eio.write_text(f"ram://noleak_{uuid.uuid4().hex}/x/y.txt", "z")
  assert os.listdir(tmp_path) == []


def test_publish_dir_overwrite_replaces_the_whole_folder(root):
  """overwrite=True: the new folder replaces the old one entirely (no old file survives), marked complete,
  and nothing is left beside it (no temporary or renamed-aside folder)."""
  final = eio.join(root, "export")
  first = eio.temporary_dir(final)
  eio.write_text(eio.join(first, "old_only.txt"), "1")
  eio.write_text(eio.join(first, "shared.txt"), "old")
  eio.publish_dir(first, final)
  second = eio.temporary_dir(final)
  eio.write_text(eio.join(second, "shared.txt"), "new")
  eio.publish_dir(second, final, overwrite=True)
  assert eio.is_complete(final)
  assert sorted(eio.listdir(final)) == [eio.COMPLETE_MARKER, "shared.txt"]
  assert eio.read_text(eio.join(final, "shared.txt")) == "new"
  assert eio.listdir(root) == ["export"]


def test_write_npz_round_trip_and_isfile(root):
  """write_npz builds the archive in memory (object-store files cannot seek while written) and np.load
  reads it back through eio.open; isfile is true for the file, false for its folder and a missing name."""
  path = eio.join(root, "s", "a.npz")
  eio.write_npz(path, {"x": np.arange(5, dtype=np.int64), "y": np.ones([2, 3], np.float32)})
  with eio.open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
    np.testing.assert_array_equal(data["x"], np.arange(5))
    assert data["y"].shape == (2, 3)
  assert eio.isfile(path) and not eio.isfile(eio.join(root, "s")) and not eio.isfile(eio.join(root, "zz.npz"))


def test_walk_skips_subfolders_removed_in_place(root):
  """As with os.walk, pruning the yielded subfolder list skips those folders (video_io skips hidden ones)."""
  for rel in ("a/x.txt", ".hidden/y.txt", "a/b/z.txt"):
    eio.write_text(eio.join(root, *rel.split("/")), "1")
  seen = []
  for folder, dirs, files in eio.walk(root):
    dirs[:] = [d for d in dirs if not d.startswith(".")]
    seen += [eio.join(folder, f) for f in files]
  assert sorted(eio.basename(p) for p in seen) == ["x.txt", "z.txt"]


def test_missing_output_folder_only_for_local_paths(tmp_path):
  """A local output's missing parent folder is reported (None once it exists); object stores have no
  folders to create, so a gs:// / ram:// prefix without any object is never "missing"."""
  assert eio.missing_output_folder(str(tmp_path / "no" / "a.npz")) == str(tmp_path / "no")
  assert eio.missing_output_folder(str(tmp_path / "a.npz")) is None
  assert eio.missing_output_folder(f"ram://empty_{uuid.uuid4().hex}/sub/a.npz") is None
