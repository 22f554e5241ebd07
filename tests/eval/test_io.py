"""eval.io: atomic writes and folder publishing on local paths and on a non-local filesystem (ram://)."""
import os
import uuid

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
