"""dvd_gan.data.video_folder_layout.scan on folders the tests write: each layout gives the expected splits,
classes and keys; the held-out split depends on a video's own path only; the fingerprint follows the files;
every unusable folder is one UserError. Files here are placeholders (scan never decodes)."""
import os

import pytest
import tensorflow as tf

from dvd_gan.data import video_folder_layout as layout_lib
from dvd_gan.errors import UserError


def _touch(root, *rels, size=10):
  for rel in rels:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
      f.write(b"x" * size)


def _keys(layout, split):
  return [v.key for v in layout.splits.get(split, [])]


def _names(n, ext=".mp4"):
  return [f"clip{i:02d}{ext}" for i in range(n)]


def test_flat_folder_is_unconditional_with_a_deterministic_held_out_split(tmp_path):
  """DIR/*.ext: no classes; a video is held out iff held_out(its relative path); the other files (txt,
  a lone image in DIR) are ignored; every video extension is found."""
  names = _names(30) + ["a.avi", "b.webm", "c.mkv", "d.MOV", "e.gif"]
  _touch(tmp_path, *names, "notes.txt", "cover.png")
  layout = layout_lib.scan(str(tmp_path))
  assert layout.class_names == []
  assert sorted(_keys(layout, "train") + _keys(layout, "validation")) == sorted(names)
  assert _keys(layout, "validation") == sorted(n for n in names if layout_lib.held_out(n))
  assert 0 < len(_keys(layout, "validation")) < len(names)  # 10 % of 35: the hash spreads them
  assert all(v.label is None for v in layout.videos)


def test_adding_files_moves_no_old_video_between_splits(tmp_path):
  _touch(tmp_path, *_names(40))
  before = layout_lib.scan(str(tmp_path))
  _touch(tmp_path, *[f"new{i}.mp4" for i in range(40)])
  after = layout_lib.scan(str(tmp_path))
  for split in ("train", "validation"):
    assert set(_keys(before, split)) <= set(_keys(after, split))
  assert before.fingerprint != after.fingerprint


def test_class_folders_give_sorted_classes(tmp_path):
  _touch(tmp_path, *[f"walk/{n}" for n in _names(3)], *[f"Run/{n}" for n in _names(2, ".webm")])
  layout = layout_lib.scan(str(tmp_path))
  assert layout.class_names == ["Run", "walk"]
  assert {v.key: v.label for v in layout.videos} == {**{f"walk/{n}": "walk" for n in _names(3)},
                                                     **{f"Run/{n}": "Run" for n in _names(2, ".webm")}}
  unlabelled = layout_lib.scan(str(tmp_path), labels="none")
  assert unlabelled.class_names == [] and all(v.label is None for v in unlabelled.videos)
  assert unlabelled.fingerprint != layout.fingerprint


def test_split_folders_are_taken_as_given(tmp_path):
  _touch(tmp_path, "train/a/1.mp4", "train/a/2.mp4", "train/b/3.mp4", "val/a/4.mp4", "test/b/5.mp4")
  layout = layout_lib.scan(str(tmp_path))
  assert {s: _keys(layout, s) for s in layout.splits} == {
      "train": ["train/a/1.mp4", "train/a/2.mp4", "train/b/3.mp4"], "validation": ["val/a/4.mp4"],
      "test": ["test/b/5.mp4"]}
  assert layout.class_names == ["a", "b"]
  flat = tmp_path / "flat"
  _touch(flat, "train/1.mp4", "validation/2.mp4")
  assert layout_lib.scan(str(flat)).class_names == []


def test_frame_folders_are_videos_with_numbered_frames_in_order(tmp_path):
  """A folder of images is one video (frames ordered by their numbers: 2 before 10), at any level."""
  frames = [f"f{i}.png" for i in (10, 2, 1)]
  _touch(tmp_path, *[f"jump/clipA/{f}" for f in frames], "jump/b.mp4",
         *[f"sit/clipB/{i}.jpg" for i in range(3)])
  layout = layout_lib.scan(str(tmp_path), eval_fraction=0.0)
  by_key = {v.key: v for v in layout.videos}
  assert sorted(by_key) == ["jump/b.mp4", "jump/clipA", "sit/clipB"]
  assert [os.path.basename(f) for f in by_key["jump/clipA"].frames] == ["f1.png", "f2.png", "f10.png"]
  assert by_key["jump/clipA"].size == 30 and by_key["sit/clipB"].label == "sit"
  assert layout.class_names == ["jump", "sit"]


def test_fingerprint_follows_names_and_sizes(tmp_path):
  _touch(tmp_path, "a/1.mp4", "b/2.mp4")
  first = layout_lib.scan(str(tmp_path)).fingerprint
  assert layout_lib.scan(str(tmp_path)).fingerprint == first
  _touch(tmp_path, "a/1.mp4", size=11)
  resized = layout_lib.scan(str(tmp_path)).fingerprint
  os.rename(tmp_path / "b" / "2.mp4", tmp_path / "b" / "3.mp4")
  renamed = layout_lib.scan(str(tmp_path)).fingerprint
  assert len({first, resized, renamed}) == 3


def test_ram_filesystem(tmp_path):
  """A folder on another filesystem (ram://, served by tf.io.gfile like gs://) scans like a local one."""
  root = "ram://video_folder_layout/videos"
  for rel in ("a/1.mp4", "a/2.mp4", "b/clip/1.png", "b/clip/2.png"):
    with tf.io.gfile.GFile(f"{root}/{rel}", "wb") as f:
      f.write(b"abc")
  layout = layout_lib.scan(root, eval_fraction=0.0)
  assert layout.class_names == ["a", "b"]
  assert [v.key for v in layout.videos] == ["a/1.mp4", "a/2.mp4", "b/clip"]
  assert layout.videos[0].path == f"{root}/a/1.mp4" and layout.videos[2].size == 6


@pytest.mark.parametrize("files, dirs, message", [
    ((), (), "is not a folder"),
    (("readme.txt", "x/notes.md"), ("",), "no video under"),
    (("a/1.mp4", "b/notes.txt"), ("",), "class folder b holds no video"),
    (("a/1.mp4",), ("empty",), "class folder empty holds no video"),
    (("a/1.mp4", "2.mp4"), ("",), "both in class folders and outside"),
])
def test_unusable_folders_are_one_user_error(tmp_path, files, dirs, message):
  root = tmp_path / "videos"
  _touch(root, *files)
  for d in dirs:
    os.makedirs(root / d, exist_ok=True)
  with pytest.raises(UserError, match=message):
    layout_lib.scan(str(root))
