"""Sample videos for people: frame grids (TensorBoard image summaries, PNG), animated GIFs and mp4 grids.

The files are written by `eval.video_writer` (any filesystem; a temporary name, then a rename, so a reader
never sees a half-written file). A run goes on without them: each file and each flush of the TensorBoard
events is retried a few times (`eval.io.retry`), then logged in one line and skipped (`eval.io.best_effort`).
"""
import functools

import numpy as np

from eval import video_writer
from eval import io as eio
from eval.errors import one_line
from eval.interrupt import check as check_stop
from eval.io import best_effort, io_errors, join, retry, write_bytes
from eval.video_writer import frame_grid, to_uint8, video_tiles


def write_samples(folder: str, name: str, videos, columns: int = 8, scale: int = 2, log=print,
                  should_stop=None) -> dict:
  """Writes `<name>.png` (frame grid: a row per video) and `<name>.gif` and `<name>.mp4` (all videos tiled,
  `columns` per row, animated; the mp4 is H.264 and lossy: for people, not for scoring). A file whose write
  keeps failing is skipped; one line through `log` names the skipped files (module docstring).

  Args:
    folder: output folder (created).
    name: file stem, e.g. "samples_000500".
    videos: [B, T, H, W, 3] float in [-1, 1].
    should_stop: `() -> bool` checked before each file (eval.interrupt: True raises Interrupted; the files
      already written are whole).
  Returns:
    {"png": path, "gif": path, "mp4": path, "grid": uint8 grid image [H', W', 3]}; a skipped file's path is
    None.
  """
  v = to_uint8(videos)
  grid = frame_grid(v)
  tiles = video_tiles(v, columns=min(columns, v.shape[0]))
  paths = {ext: join(folder, f"{name}.{ext}") for ext in ("png", "gif", "mp4")}
  big = video_writer.upscale(tiles, scale)
  encoders = {"png": lambda: video_writer.encode_png(video_writer.upscale(grid, scale)),
              "gif": lambda: video_writer.encode_gif(big, fps=6),
              "mp4": lambda: video_writer.encode_mp4(big, fps=6)}
  failed = {}
  for ext, encode in encoders.items():
    check_stop(should_stop, name)
    data = encode()  # once: only the write is retried
    try:
      retry(functools.partial(write_bytes, paths[ext], data))
    except io_errors() as e:
      failed[ext] = one_line(e)
      paths[ext] = None
  if failed:
    log(f"warning: samples {join(folder, name)}.{{{','.join(failed)}}} not written ({eio.RETRY_ATTEMPTS} tries "
        f"each), skipped: {next(iter(failed.values()))}")
  return {**paths, "grid": grid}


def flush(writer, log=print) -> None:
  """Flushes a tf.summary writer's pending events, retried; skipped with one line when it keeps failing."""
  best_effort(lambda: writer.flush() or True, "writing TensorBoard events", log)


# ---- TensorBoard (the tensorboard package, a dependency, provides tf.summary.scalar / image) ------------------


def scalar(name: str, value: float, step: int):
  """A TensorBoard scalar (float32) under the default writer."""
  import tensorflow as tf  # noqa: PLC0415 - imported by TensorFlow-free modules
  tf.summary.scalar(name, float(value), step=step)


def image(name: str, image_uint8: np.ndarray, step: int):
  """A TensorBoard image (uint8 [H, W, 3]) under the default writer."""
  import tensorflow as tf  # noqa: PLC0415 - imported by TensorFlow-free modules
  tf.summary.image(name, np.asarray(image_uint8)[None], step=step, max_outputs=1)
