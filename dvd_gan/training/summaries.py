"""Sample videos for people: frame grids (TensorBoard image summaries, PNG), animated GIFs and mp4 grids.

The files are written by `eval.video_writer` (any filesystem; a temporary name, then a rename, so a reader
never sees a half-written file).
"""
import numpy as np

from eval import video_writer
from eval.interrupt import check as check_stop
from eval.io import join
from eval.video_writer import frame_grid, to_uint8, video_tiles


def write_samples(folder: str, name: str, videos, columns: int = 8, scale: int = 2, should_stop=None) -> dict:
  """Writes `<name>.png` (frame grid: a row per video) and `<name>.gif` and `<name>.mp4` (all videos tiled,
  `columns` per row, animated; the mp4 is H.264 and lossy: for people, not for scoring).

  Args:
    folder: output folder (created).
    name: file stem, e.g. "samples_000500".
    videos: [B, T, H, W, 3] float in [-1, 1].
    should_stop: `() -> bool` checked before each file (eval.interrupt: True raises Interrupted; the files
      already written are whole).
  Returns:
    {"png": path, "gif": path, "mp4": path, "grid": uint8 grid image [H', W', 3]}.
  """
  v = to_uint8(videos)
  grid = frame_grid(v)
  tiles = video_tiles(v, columns=min(columns, v.shape[0]))
  paths = {ext: join(folder, f"{name}.{ext}") for ext in ("png", "gif", "mp4")}
  check_stop(should_stop, name)
  video_writer.write_png(paths["png"], grid, scale=scale)
  check_stop(should_stop, name)
  video_writer.write_video(paths["gif"], tiles, fps=6, scale=scale)
  check_stop(should_stop, name)
  video_writer.write_video(paths["mp4"], tiles, fps=6, scale=scale)
  return {**paths, "grid": grid}


# ---- TensorBoard (the tensorboard package, a dependency, provides tf.summary.scalar / image) ------------------


def scalar(name: str, value: float, step: int):
  """A TensorBoard scalar (float32) under the default writer."""
  import tensorflow as tf  # noqa: PLC0415 - imported by TensorFlow-free modules
  tf.summary.scalar(name, float(value), step=step)


def image(name: str, image_uint8: np.ndarray, step: int):
  """A TensorBoard image (uint8 [H, W, 3]) under the default writer."""
  import tensorflow as tf  # noqa: PLC0415 - imported by TensorFlow-free modules
  tf.summary.image(name, np.asarray(image_uint8)[None], step=step, max_outputs=1)
