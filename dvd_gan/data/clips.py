"""Decoding of one video file into resized JPEG frames with PyAV (no TensorFlow: runs in worker processes).

`load_clip(path, size, min_frames)` decodes every frame of the first video stream (full frame rate, no frame
dropping), resizes it bilinearly so that its shorter side equals `size` (aspect kept) and encodes it as JPEG.
It never raises for a bad file: the result's `status` says what happened.
"""
import dataclasses
import io
import os
from typing import List, Optional, Tuple

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


def load_clip(path: Optional[str], size: int, min_frames: int, jpeg_quality: int = 90) -> Clip:
  """Decodes `path` into JPEG frames with shorter side `size`; status MISSING/UNREADABLE/TOO_SHORT on failure."""
  import av  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top

  if path is None or not os.path.isfile(path):
    return Clip(status=MISSING, error=f"no file for this clip ({path})")
  frames = []
  fps = 0.0
  height = width = 0
  try:
    with av.open(path) as container:
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
  except Exception as e:  # pylint: disable=broad-except  # any decoder error means "unreadable", never a crash
    return Clip(status=UNREADABLE, error=f"{path}: {type(e).__name__}: {e}")
  if not frames:
    return Clip(status=UNREADABLE, error=f"{path}: no decodable frame")
  if len(frames) < min_frames:
    return Clip(status=TOO_SHORT, error=f"{path}: {len(frames)} frames < {min_frames}")
  return Clip(status=OK, frames=frames, fps=fps, height=height, width=width)
