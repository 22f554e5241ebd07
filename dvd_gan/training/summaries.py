"""Sample videos for people: frame grids (TensorBoard image summaries, PNG), animated GIFs and mp4 grids.

The files are written by `eval.video_writer` (any filesystem; a temporary name, then a rename, so a reader
never sees a half-written file).
"""
import numpy as np

from eval import video_writer
from eval.io import join
from eval.video_writer import frame_grid, to_uint8, video_tiles  # noqa: F401 - re-exported for callers


def write_samples(folder: str, name: str, videos, columns: int = 8, scale: int = 2) -> dict:
  """Writes `<name>.png` (frame grid: a row per video) and `<name>.gif` and `<name>.mp4` (all videos tiled,
  `columns` per row, animated; the mp4 is H.264 and lossy: for people, not for scoring).

  Args:
    folder: output folder (created).
    name: file stem, e.g. "samples_000500".
    videos: [B, T, H, W, 3] float in [-1, 1].
  Returns:
    {"png": path, "gif": path, "mp4": path, "grid": uint8 grid image [H', W', 3]}.
  """
  v = to_uint8(videos)
  grid = frame_grid(v)
  tiles = video_tiles(v, columns=min(columns, v.shape[0]))
  paths = {ext: join(folder, f"{name}.{ext}") for ext in ("png", "gif", "mp4")}
  video_writer.write_png(paths["png"], grid, scale=scale)
  video_writer.write_video(paths["gif"], tiles, fps=6, scale=scale)
  video_writer.write_video(paths["mp4"], tiles, fps=6, scale=scale)
  return {**paths, "grid": grid}


# ---- TensorBoard records without the tensorboard package --------------------------------------------------
# tf.summary.scalar / image live in the tensorboard package, which TensorFlow no longer installs. These write
# the same records (plugin "scalars": a float32 scalar; plugin "images": [width, height, png...] strings)
# with the core op tf.summary.write, so TensorBoard shows them as usual.


def _metadata(plugin: str):
  from tensorflow.core.framework import summary_pb2  # noqa: PLC0415
  md = summary_pb2.SummaryMetadata()
  md.plugin_data.plugin_name = plugin
  md.plugin_data.content = b""
  if plugin == "scalars":
    md.data_class = summary_pb2.DATA_CLASS_SCALAR
  else:
    md.data_class = summary_pb2.DATA_CLASS_BLOB_SEQUENCE
  return md


def scalar(name: str, value: float, step: int):
  """A TensorBoard scalar under the default writer."""
  import tensorflow as tf  # noqa: PLC0415
  tf.summary.write(name, tf.constant(float(value), tf.float32), step=step, metadata=_metadata("scalars"))


def image(name: str, image_uint8: np.ndarray, step: int):
  """A TensorBoard image (uint8 [H, W, 3]) under the default writer."""
  import tensorflow as tf  # noqa: PLC0415
  png = tf.io.encode_png(image_uint8)
  h, w = image_uint8.shape[:2]
  tensor = tf.stack([tf.constant(str(w)), tf.constant(str(h)), png])
  tf.summary.write(name, tensor, step=step, metadata=_metadata("images"))
