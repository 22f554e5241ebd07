"""Decoding of one video file into resized JPEG frames with PyAV (runs in worker processes).

A local path is opened by PyAV itself (no TensorFlow in the worker); a path on another filesystem
(`gs://...`) is read through a tf.io.gfile file object, which PyAV accepts.

`load_frames(paths, size, min_frames)` does the same for a frame folder (the images in order, Pillow).

`load_clip(path, size, min_frames)` decodes every frame of the first video stream (full frame rate, no frame
dropping), resizes it bilinearly so that its shorter side equals `size` (aspect kept) and encodes it as JPEG.
It never raises for a bad file: the result's `status` says what happened.
"""
import contextlib
import dataclasses
import io
import os
from typing import List, Optional, Tuple
from PIL import Image
from eval import io as eio
import av

# Statuses of `load_clip`.
OK = "ok"
MISSING = "missing"
UNREADABLE = "unreadable"
TOO_SHORT = "too_short"
SKIP_STATUSES = (MISSING, UNREADABLE, TOO_SHORT)


@dataclasses.dataclass
class Clip:
  status: str
  frames: List[bytes] = dataclasses.field(default_factory=list)  # JPEG bytes, one per frame
  fps: float = 0.0
  height: int = 0
  width: int = 0
  error: str = ""


def scaled_size(height: int, width: int, size: int) -> Tuple[int, int]:
  """(h, w) with min(h, w) == size and the aspect ratio kept (longer side rounded half up)."""
  if height <= width:
    return size, max(size, int(width * size / height + 0.5))
  return max(size, int(height * size / width + 0.5)), size


def _has_scheme(path: str) -> bool:
  return "://" in str(path)


def _isfile(path: str) -> bool:
  if not _has_scheme(path):
    return os.path.isfile(path)
  return eio.isfile(path)


@contextlib.contextmanager
def _open(path: str):
  """The local path itself, or a seekable gfile file object for `gs://...` and other filesystems."""
  if not _has_scheme(path):
    yield path
    return
  with eio.open(path, "rb") as f:
    yield f


def load_clip(path: Optional[str], size: int, min_frames: int, jpeg_quality: int = 90) -> Clip:
  """Decodes `path` into JPEG frames with shorter side `size`; status MISSING/UNREADABLE/TOO_SHORT on failure."""

  if path is None or not _isfile(path):
    return Clip(status=MISSING, error=f"no file for this clip ({path})")
  frames = []
  fps = 0.0
  height = width = 0
  try:
    with _open(path) as source, av.open(source) as container:
      if not container.streams.video:
        return Clip(status=UNREADABLE, error=f"{path}: no video stream")
      stream = container.streams.video[0]
      stream.thread_type = "AUTO"
      rate = stream.average_rate or stream.base_rate
      fps = float(rate) if rate else 0.0
      for frame in container.decode(stream):
        height, width = scaled_size(frame.height, frame.width, size)
        image = frame.reformat(width=width, height=height, format="rgb24",
                               interpolation="BILINEAR").to_ndarray()
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=jpeg_quality)
        frames.append(buffer.getvalue())
  except Exception as e:  # any decoder error means "unreadable", never a crash
    return Clip(status=UNREADABLE, error=f"{path}: {type(e).__name__}: {e}")
  if not frames:
    return Clip(status=UNREADABLE, error=f"{path}: no decodable frame")
  if len(frames) < min_frames:
    return Clip(status=TOO_SHORT, error=f"{path}: {len(frames)} frames < {min_frames}")
  return Clip(status=OK, frames=frames, fps=fps, height=height, width=width)


def _resized_jpeg(image: Image.Image, size: int, jpeg_quality: int) -> Tuple[bytes, int, int]:
  height, width = scaled_size(image.height, image.width, size)
  buffer = io.BytesIO()
  image.convert("RGB").resize((width, height), Image.BILINEAR).save(buffer, format="JPEG", quality=jpeg_quality)
  return buffer.getvalue(), height, width


def load_frames(paths: List[str], size: int, min_frames: int, jpeg_quality: int = 90) -> Clip:
  """The images `paths` (one video's frames, in order) as JPEG frames with shorter side `size`; an image
  that cannot be read makes the clip UNREADABLE (a video with a hole would teach false motion)."""
  if len(paths) < min_frames:
    return Clip(status=TOO_SHORT, error=f"{len(paths)} frames < {min_frames}")
  frames = []
  height = width = 0
  for path in paths:
    if not _isfile(path):
      return Clip(status=MISSING, error=f"no file {path}")
    try:
      with _open(path) as source, Image.open(source) as image:
        jpeg, height, width = _resized_jpeg(image, size, jpeg_quality)
    except Exception as e:  # any image error means "unreadable", never a crash
      return Clip(status=UNREADABLE, error=f"{path}: {type(e).__name__}: {e}")
    frames.append(jpeg)
  return Clip(status=OK, frames=frames, fps=0.0, height=height, width=width)
