"""Discovery of the videos in a user's folder: which files are videos, their split and class, a fingerprint.

Layouts recognised (DIR local, gs:// or any filesystem tf.io.gfile knows):
  DIR/*.ext                                      unconditional
  DIR/<class>/*.ext                              class-conditional, classes = sorted folder names
  DIR/{train,validation,test}/[<class>/]*.ext    splits as given ("val", "valid", "validate" = validation)
A video is a file with one of VIDEO_EXTENSIONS, or a frame folder: a folder holding numbered .png / .jpg
images (ordered by the last number in their names), at any of those levels. Files below a class folder's
subfolders belong to that class. With labels = "none" the class folders are ignored (one class).

Without split folders, a video goes to the held-out "validation" split when the hash of its path relative
to DIR falls below EVAL_FRACTION (10 %): deterministic, and adding files never moves old ones between splits.

`scan` never decodes anything; it reads the listing (one glob per folder level) and one size per file, and
raises UserError for a folder it cannot use (missing, unreadable, no video, an empty class folder, videos
both beside and inside class folders).
"""
import dataclasses
import hashlib
import posixpath
import re
from typing import Dict, List, Optional, Tuple

from dvd_gan.data import clip_builder
from dvd_gan.errors import UserError
from eval import io as eio

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".gif")
FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg")
SPLIT_FOLDERS = {"train": "train", "training": "train", "validation": "validation", "val": "validation",
                 "valid": "validation", "validate": "validation", "test": "test", "testing": "test"}
EVAL_FRACTION = 0.1
HELD_OUT_SPLIT = "validation"
LABELS = ("folders", "none")
MAX_DEPTH = 5  # DIR/split/class/frame_folder/frame.png, plus one level of subfolders


@dataclasses.dataclass(frozen=True)
class Video:
  """One video: `key` its path relative to DIR ("/"-separated), `path` the file (or frame folder), `frames`
  the frame images of a frame folder in order (empty for a video file), `size` bytes on disk."""
  key: str
  path: str
  split: str
  label: Optional[str]
  frames: Tuple[str, ...] = ()
  size: int = 0


@dataclasses.dataclass(frozen=True)
class Layout:
  """What `scan` found: `splits` {split: [Video]} (sorted by key), `class_names` ([] = unconditional)."""
  root: str
  labels: str
  splits: Dict[str, List[Video]]
  class_names: List[str]
  fingerprint: str

  @property
  def videos(self) -> List[Video]:
    return [v for s in sorted(self.splits) for v in self.splits[s]]


def held_out(key: str, fraction: float = EVAL_FRACTION) -> bool:
  """Whether the video at relative path `key` belongs to the held-out split (a hash of the path alone)."""
  digest = hashlib.sha256(key.encode("utf-8")).digest()
  return int.from_bytes(digest[:8], "big") / 2.0 ** 64 < fraction


def frame_order(name: str):
  """Sort key of a frame image name: its last number, then the name ("f2.png" before "f10.png")."""
  numbers = re.findall(r"\d+", name)
  return (int(numbers[-1]) if numbers else -1, name)


def fingerprint(videos: List[Video], labels: str, eval_fraction: float) -> str:
  """sha256 hex of the split, label, relative path and size of every video (and the settings that decide
  them): a file added, removed, renamed or rewritten with another size gives another fingerprint."""
  h = hashlib.sha256(f"labels={labels};eval_fraction={eval_fraction!r}\n".encode())
  for v in sorted(videos, key=lambda v: v.key):
    h.update(f"{v.split}\t{v.label}\t{v.key}\t{v.size}\t{len(v.frames)}\n".encode())
  return h.hexdigest()


def _relative(root: str, path: str) -> str:
  return path[len(root):].lstrip("/")


def _ext(name: str) -> str:
  return posixpath.splitext(name)[1].lower()


def scan(root: str, labels: str = "folders", eval_fraction: float = EVAL_FRACTION) -> Layout:
  """The videos below `root`, by split and class (module docstring). UserError for an unusable folder."""
  if labels not in LABELS:
    raise UserError(f"labels must be one of {LABELS}, got {labels!r}")
  root = str(root).rstrip("/")
  try:
    if not eio.isdir(root):
      raise UserError(f"{root} is not a folder")
    paths = clip_builder.list_files(root, MAX_DEPTH)
  except eio.io_errors() as e:
    raise UserError(f"cannot read {root}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") \
        from None
  rel = [_relative(root, p) for p in paths]
  parents = {posixpath.dirname(r) for r in rel}
  frame_dirs: Dict[str, List[str]] = {}
  files = []
  for r in rel:
    if r in parents:
      continue  # a folder with something in it
    ext = _ext(r)
    if ext in FRAME_EXTENSIONS:
      frame_dirs.setdefault(posixpath.dirname(r), []).append(r)
    elif ext in VIDEO_EXTENSIONS:
      files.append(r)
  units = [(r, ()) for r in files if not any(r.startswith(d + "/") for d in frame_dirs if d)]
  units += [(d, tuple(sorted(fs, key=lambda f: frame_order(posixpath.basename(f)))))
            for d, fs in frame_dirs.items() if d]  # images directly in DIR are not a video
  if not units:
    raise UserError(f"no video under {root} (looked for {', '.join(e[1:] for e in VIDEO_EXTENSIONS)} files "
                    f"and folders of numbered png/jpg frames, up to {MAX_DEPTH} levels deep)")
  top = {r.split("/")[0] for r, _ in units if "/" in r}
  has_splits = any(t.lower() in SPLIT_FOLDERS for t in top)

  videos = []
  class_dirs = set()
  for key, frames in sorted(units):
    parts = key.split("/")
    if has_splits:
      split = SPLIT_FOLDERS.get(parts[0].lower())
      if split is None:
        continue  # beside the split folders: not part of any split
      inner, prefix = parts[1:], parts[0] + "/"
    else:
      split = HELD_OUT_SPLIT if held_out(key, eval_fraction) else "train"
      inner, prefix = parts, ""
    label = inner[0] if len(inner) > 1 else None
    if label is not None:
      class_dirs.add(prefix + label)
    path = eio.join(root, key)
    if frames:
      size = sum(eio.file_size(eio.join(root, f)) for f in frames)
      frames = tuple(eio.join(root, f) for f in frames)
    else:
      size = eio.file_size(path)
    videos.append(Video(key=key, path=path, split=split, label=label, frames=frames, size=size))
  if not videos:
    raise UserError(f"no video inside the split folders of {root}")

  if labels == "none":
    videos = [dataclasses.replace(v, label=None) for v in videos]
    names = []
  else:
    loose = [v.key for v in videos if v.label is None]
    names = sorted({v.label for v in videos if v.label is not None})
    if names and loose:
      raise UserError(f"{root}: videos both in class folders and outside them (e.g. {loose[0]}); put every "
                      f"video in a class folder, or train unconditionally with --config.data.labels=none")
    # A folder beside the class folders that holds no video is a class with no clip (hidden folders aside).
    levels = {posixpath.dirname(d) for d in class_dirs}
    for p in rel:
      if posixpath.dirname(p) not in levels or p in class_dirs or posixpath.basename(p).startswith("."):
        continue
      if p in parents or (_ext(p) == "" and eio.isdir(eio.join(root, p))):
        raise UserError(f"class folder {p} holds no video")
  splits: Dict[str, List[Video]] = {}
  for v in videos:
    splits.setdefault(v.split, []).append(v)
  return Layout(root=root, labels=labels, splits=splits, class_names=names,
                fingerprint=fingerprint(videos, labels, eval_fraction))
