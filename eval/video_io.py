"""Reading sets of videos from disk: directories, single files or globs of mp4/avi/webm/mov/mkv (PyAV), gif
(PIL), and `.npy`/`.npz` arrays `[T, H, W, 3]` or `[N, T, H, W, 3]`.

Every video comes out as an array `[T, H, W, 3]`, uint8 (or float32 in [0, 255] for float arrays), after
validation: RGB only (grayscale and RGBA are errors), float values inside [0, 255]. Frame selection
(`select_frames`): with `frames=T` and `stride=S` the video keeps frames 0, S, 2S, ..., (T-1)S, i.e. the
FIRST T frames at stride S (not a centre crop in time); a video with fewer than (T-1)S+1 frames is an error
that names the file. With `frames=None` every video keeps all its frames (stride applied), and `iter_videos`
fixes T to the length of the first video.
Each problem raises an EvalError with a one-line message naming the file.

Paths may be on any filesystem TensorFlow knows (`gs://...`; listed and opened through tf.io.gfile, `eval.io`).
Local files are decoded from their path (and `.npy` files memory-mapped); others through a file object.
"""
import os

import av
import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from eval import io as eio
from eval import npz
from eval.errors import EvalError, one_line

CONTAINER_EXTENSIONS = (".mp4", ".avi", ".webm", ".mov", ".mkv", ".m4v")
GIF_EXTENSIONS = (".gif",)
ARRAY_EXTENSIONS = (".npy", ".npz")
VIDEO_EXTENSIONS = CONTAINER_EXTENSIONS + GIF_EXTENSIONS + ARRAY_EXTENSIONS


def list_video_files(path: str) -> list[str]:
  """The video files of `path`: a directory (searched recursively, sorted), a single file, or a glob.

  Hidden files (and folders) are skipped; any other file with an unsupported extension is an error (rather
  than silently scoring fewer videos than the user thinks). Globs are tf.io.gfile's: `*`, `?` and `[...]`
  match within one folder level (`**` is not recursive: give the folder itself for a recursive search).
  """
  path = str(path) if eio.has_scheme(path) else os.path.expanduser(str(path))
  if eio.isdir(path):
    files = []
    for root, dirs, names in eio.walk(path):
      dirs[:] = sorted(d for d in dirs if not d.startswith("."))
      files += [eio.join(root, n) for n in sorted(names) if not n.startswith(".")]
    if not files:
      raise EvalError(f"no videos found: directory {path} is empty")
  elif eio.isfile(path):
    files = [path]
  elif any(c in path for c in "*?["):
    try:
      files = [f for f in eio.glob(path) if eio.isfile(f) and not eio.basename(f).startswith(".")]
    except eio.io_errors() as e:
      raise EvalError(f"cannot list {path}: {one_line(e)}") from None
    if not files:
      raise EvalError(f"no videos found: the pattern {path} matches no file")
  else:
    raise EvalError(f"no such file or directory: {path}")
  for f in files:
    if os.path.splitext(f)[1].lower() not in VIDEO_EXTENSIONS:
      raise EvalError(f"not a video file (unsupported extension, expected one of "
                      f"{' '.join(VIDEO_EXTENSIONS)}): {f}")
  return files


class _source:
  """`with _source(path) as src`: the path itself for a local file (PyAV, PIL and numpy read it directly),
  a tf.io.gfile file object (seekable) for other filesystems."""

  def __init__(self, path: str):
    self.path, self.file = path, None

  def __enter__(self):
    if not eio.has_scheme(self.path):
      return self.path
    self.file = eio.open(self.path, "rb")
    return self.file

  def __exit__(self, *exc):
    if self.file is not None:
      self.file.close()




def check_video(video, name: str) -> np.ndarray:
  """Validates one video array `[T, H, W, 3]`; returns it as uint8, or float32 when it is float."""
  video = np.asarray(video)
  if video.ndim == 3 or (video.ndim == 4 and video.shape[-1] == 1):
    raise EvalError(f"grayscale video (shape {video.shape}), expected RGB [T, H, W, 3]: {name}")
  if video.ndim != 4:
    raise EvalError(f"a video must be [T, H, W, 3], got shape {video.shape}: {name}")
  if video.shape[-1] == 4:
    raise EvalError(f"RGBA video (4 channels), expected RGB [T, H, W, 3]; drop the alpha channel: {name}")
  if video.shape[-1] != 3:
    raise EvalError(f"a video must have 3 (RGB) channels, got shape {video.shape}: {name}")
  if min(video.shape[:3]) == 0:
    raise EvalError(f"empty video (shape {video.shape}): {name}")
  if video.dtype == np.uint8:
    return video
  if np.issubdtype(video.dtype, np.floating) or np.issubdtype(video.dtype, np.integer):
    lo, hi = float(video.min()), float(video.max())
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi > 255:
      raise EvalError(f"pixel values must lie in [0, 255], got [{lo:g}, {hi:g}] ({video.dtype}): {name}")
    return video.astype(np.float32)
  raise EvalError(f"unsupported pixel type {video.dtype} (expected uint8 or float in [0, 255]): {name}")


def select_frames(video: np.ndarray, frames: int | None, stride: int, name: str) -> np.ndarray:
  """The first `frames` frames at `stride` of `video` [T, H, W, 3] -> [frames, H, W, 3]."""
  if stride < 1:
    raise EvalError(f"stride must be >= 1, got {stride}")
  if frames is None:
    return video[::stride]
  needed = (frames - 1) * stride + 1
  if video.shape[0] < needed:
    raise EvalError(f"video too short: {video.shape[0]} frames, {needed} needed for {frames} frames at stride "
                    f"{stride}: {name}")
  return video[:needed:stride]


def _frames_needed(frames: int | None, stride: int) -> int | None:
  return None if frames is None else (frames - 1) * stride + 1


def read_container(path: str, max_frames: int | None = None) -> np.ndarray:
  """Decodes an mp4/avi/webm/... file with PyAV -> uint8 [T, H, W, 3] (at most `max_frames` frames)."""
  try:
    with _source(path) as source, av.open(source) as container:
      if not container.streams.video:
        raise EvalError(f"no video stream in {path}")
      stream = container.streams.video[0]
      pix_fmt = (stream.codec_context.pix_fmt or "")
      if pix_fmt.startswith(("gray", "ya", "monow", "monob")):
        raise EvalError(f"grayscale video (pixel format {pix_fmt}), expected RGB: {path}")
      if pix_fmt.startswith(("yuva", "rgba", "bgra", "argb", "abgr", "gbrap")):
        raise EvalError(f"video with an alpha channel (pixel format {pix_fmt}), expected RGB: {path}")
      out = []
      for frame in container.decode(stream):
        out.append(frame.to_ndarray(format="rgb24"))
        if max_frames is not None and len(out) >= max_frames:
          break
  except EvalError:
    raise
  except Exception as e:  # PyAV raises many error types (InvalidDataError, ...)
    raise EvalError(f"cannot decode video {path}: {one_line(e)}") from None
  if not out:
    raise EvalError(f"no frames decoded from {path}")
  return np.stack(out)


def read_gif(path: str, max_frames: int | None = None) -> np.ndarray:
  """Decodes a GIF with PIL -> uint8 [T, H, W, 3] (every frame composited and converted to RGB)."""
  try:
    with _source(path) as source, Image.open(source) as im:
      if im.mode in ("L", "LA", "1", "I", "I;16"):
        raise EvalError(f"grayscale GIF (mode {im.mode}), expected RGB: {path}")
      out = []
      for frame in ImageSequence.Iterator(im):
        out.append(np.asarray(frame.convert("RGB")))
        if max_frames is not None and len(out) >= max_frames:
          break
  except EvalError:
    raise
  except (UnidentifiedImageError, ValueError, *eio.io_errors()) as e:
    raise EvalError(f"cannot decode GIF {path}: {one_line(e)}") from None
  return np.stack(out)


def read_arrays(path: str):
  """Yields (name, video) for a .npy/.npz file of videos [T, H, W, 3] or [N, T, H, W, 3] (memory-mapped .npy)."""
  try:
    if path.endswith(".npy") and not eio.has_scheme(path):
      arrays = [("", np.load(path, mmap_mode="r", allow_pickle=False))]
    elif path.endswith(".npy"):
      with eio.open(path, "rb") as f:
        arrays = [("", np.load(f, allow_pickle=False))]
    else:
      arrays = list(npz.load(path, "array file").items())
  except (ValueError, EOFError, *eio.io_errors()) as e:
    raise EvalError(f"cannot read array file {path}: {one_line(e)}") from None
  if not arrays:
    raise EvalError(f"no arrays in {path}")
  for key, array in arrays:
    base = f"{path}[{key}]" if key else path
    if array.ndim == 5:
      for i in range(array.shape[0]):
        yield f"{base}[{i}]", array[i]
    else:
      yield base, array


def class_folder(root: str, name: str) -> str:
  """The class of the video `name` (a file path, or `path[i]` of an array file) under the directory `root`:
  the first folder below `root` on its path; an EvalError for a video directly in `root`."""
  root = str(root).rstrip("/") if eio.has_scheme(root) else os.path.normpath(os.path.expanduser(str(root)))
  path = str(name) if eio.has_scheme(name) else os.path.normpath(os.path.expanduser(str(name)))
  rel = path[len(root):].lstrip("/" + os.sep) if path.startswith(root) else None
  parts = None if rel is None else rel.replace(os.sep, "/").split("/")
  if not parts or len(parts) < 2:
    raise EvalError(f"{name} is not in a class subfolder of {root} (per-class scores need one subfolder "
                    "per class)")
  return parts[0]


def with_classes(videos, root: str, classes: list):
  """Yields the (name, video) pairs of `videos` (read from the directory `root`), appending the class
  subfolder of each to `classes`, in order (for per-class scores)."""
  if not eio.isdir(root):
    raise EvalError(f"class labels of videos come from class subfolders: {root} is not a directory")
  for name, video in videos:
    classes.append(class_folder(root, name))
    yield name, video


def read_file(path: str, max_frames: int | None = None):
  """Yields (name, raw video) for every video of one file."""
  ext = os.path.splitext(path)[1].lower()
  if ext in ARRAY_EXTENSIONS:
    yield from read_arrays(path)
  elif ext in GIF_EXTENSIONS:
    yield path, read_gif(path, max_frames)
  elif ext in CONTAINER_EXTENSIONS:
    yield path, read_container(path, max_frames)
  else:
    raise EvalError(f"not a video file: {path}")


def iter_videos(path: str, *, frames: int | None = None, stride: int = 1, min_frames: int = 1,
                num_videos: int | None = None, shard_index: int = 0, num_shards: int = 1):
  """Yields (name, video [T, H, W, 3]) for the videos of `path`, validated and cut to `frames` at `stride`.

  With `frames=None`, T is the length (after stride) of the first video. A T below `min_frames` (the
  network's minimum) is an error. `num_videos` stops after that many videos (an error if there are fewer);
  `shard_index`/`num_shards` keep every num_shards-th video (for statistics computed on several hosts and
  merged).
  """
  files = list_video_files(path)
  count = 0
  index = -1
  for file in files:
    for name, raw in read_file(file, _frames_needed(frames, stride)):
      index += 1
      if index % num_shards != shard_index:
        continue
      video, frames = _clip(raw, name, frames, stride, min_frames)
      yield name, video
      count += 1
      if num_videos is not None and count >= num_videos:
        return
  if num_videos is not None and count < num_videos:
    raise EvalError(f"{path} holds {count} videos, fewer than the {num_videos} requested")


def _clip(raw, name: str, frames, stride: int, min_frames: int):
  """Checks one decoded video and selects its frames; returns (video, frames).

  With `frames` None, T becomes this (the first) video's length, and later videos are cut to it.
  """
  if frames is not None and frames < min_frames:
    raise EvalError(f"frames={frames} is below the network's minimum of {min_frames} frames")
  video = select_frames(check_video(raw, name), frames, stride, name)
  if frames is None:
    frames = video.shape[0]
    if frames < min_frames:
      raise EvalError(f"video too short for the network: {frames} frames, at least {min_frames} needed: "
                      f"{name}")
  return video, frames


def iter_tfds_videos(spec: str, *, data_dir: str | None = None, key: str | None = None,
                     frames: int | None = None, stride: int = 1, min_frames: int = 1,
                     num_videos: int | None = None, shard_index: int = 0, num_shards: int = 1):
  """Yields (name, video) from a prepared TFDS dataset `NAME:SPLIT` (no download), like `iter_videos`.

  `key` names the video feature of an example; by default the first `tfds.features.Video` feature.
  """
  name, _, split = spec.partition(":")
  try:
    import tensorflow_datasets as tfds  # noqa: PLC0415 - imports TensorFlow, only for --tfds inputs
  except ImportError:
    raise EvalError("--tfds needs tensorflow-datasets: pip install tensorflow-datasets") from None
  try:
    builder = tfds.builder(name, data_dir=data_dir)
    if key is None:
      videos = [k for k, f in builder.info.features.items() if isinstance(f, tfds.features.Video)]
      if not videos:
        raise EvalError(f"TFDS dataset {name} has no video feature; pass --tfds_key")
      key = videos[0]
    dataset = builder.as_dataset(split=split, shuffle_files=False)
  except EvalError:
    raise
  except Exception as e:  # DatasetNotFoundError, AssertionError (not prepared), ValueError (bad split)
    raise EvalError(f"cannot open TFDS dataset {spec} (prepare it first with `tfds build {name}`"
                    f"{' --data_dir=' + data_dir if data_dir else ''}): {one_line(e, 300)}") from None
  count = 0
  for index, example in enumerate(tfds.as_numpy(dataset)):
    if index % num_shards != shard_index:
      continue
    if key not in example:
      raise EvalError(f"TFDS dataset {name} has no feature {key!r}; features: {', '.join(example)}")
    label = f"{spec}[{index}]"
    video, frames = _clip(example[key], label, frames, stride, min_frames)
    yield label, video
    count += 1
    if num_videos is not None and count >= num_videos:
      return
  if num_videos is not None and count < num_videos:
    raise EvalError(f"TFDS {spec} holds {count} videos, fewer than the {num_videos} requested")
