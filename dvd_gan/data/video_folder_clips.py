"""What a video-folder decoder worker process does with one video (dvd_gan.data.video_folder).

Kept apart from the builder so that a worker imports no TensorFlow (PyAV, Pillow and numpy through
dvd_gan.data.clips), as dvd_gan.data.kinetics600_clips.
"""
from typing import Dict, Optional, Tuple

import numpy as np

from dvd_gan.data import clips as clips_lib

EMPTY = "empty"  # a zero-length file (an interrupted copy or download)


def process_video(item: Dict[str, object], *, size: int, min_frames: int, jpeg_quality: int,
                  load_clip=clips_lib.load_clip) -> Tuple[str, str, Optional[Dict[str, object]], str]:
  """One video {"key", "path", "frames", "size", "label_index"} -> (key, status, example or None, error).

  A frame folder ("frames" non-empty) is read with Pillow, a file with `load_clip` (PyAV: every listed
  format, GIF included)."""
  if item["frames"]:
    clip = clips_lib.load_frames(list(item["frames"]), size, min_frames, jpeg_quality)
  elif item["size"] == 0:
    return item["key"], EMPTY, None, f"{item['path']}: zero-length file"
  else:
    clip = load_clip(item["path"], size, min_frames, jpeg_quality)
  if clip.status != clips_lib.OK:
    return item["key"], clip.status, None, clip.error
  example = {"video": clip.frames, "label": item["label_index"], "path": item["key"],
             "fps": np.float32(clip.fps)}
  return item["key"], clip.status, example, ""
