"""What a Kinetics-600 decoder worker process does with one annotation item (dvd_gan.data.kinetics600).

Kept apart from the builder so that a worker imports no TensorFlow (only PyAV, Pillow and numpy through
dvd_gan.data.clips): a pool, and every pool that replaces one whose worker crashed or hung
(dvd_gan.data.worker_pool), starts in a fraction of the time.
"""
from typing import Dict, Optional, Tuple

import numpy as np

from dvd_gan.data import clips as clips_lib

UNKNOWN_LABEL = "unknown_label"
BAD_ANNOTATION = "bad_annotation"


def process_clip(item: Dict[str, object], *, size: int, min_frames: int, jpeg_quality: int,
                 load_clip=clips_lib.load_clip) -> Tuple[str, str, Optional[Dict[str, object]], str]:
  """One annotation item -> (key, status, example or None, error).

  `load_clip`: the decoder, `(path, size, min_frames, jpeg_quality) -> dvd_gan.data.clips.Clip` (a
  module-level function: it is pickled to the workers by name).
  """
  if item.get("error"):
    return item["key"], BAD_ANNOTATION, None, item["error"]
  if item["label_index"] is None:
    return item["key"], UNKNOWN_LABEL, None, f"label {item['label']!r} not in the class list"
  clip = load_clip(item["path"], size, min_frames, jpeg_quality)
  if clip.status != clips_lib.OK:
    return item["key"], clip.status, None, clip.error
  example = {"video": clip.frames, "label": item["label_index"], "youtube_id": item["youtube_id"],
             "time_start": item["time_start"], "time_end": item["time_end"], "fps": np.float32(clip.fps)}
  return item["key"], clip.status, example, ""
