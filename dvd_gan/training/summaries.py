"""Sample videos for people: frame grids (TensorBoard image summaries, PNG) and animated GIFs.

Every output file is written to a temporary name in the target folder and renamed, so a reader never sees a
half-written file.
"""
import os
import tempfile

import numpy as np


def to_uint8(videos) -> np.ndarray:
  """[B, T, H, W, 3] float in [-1, 1] -> uint8 [B, T, H, W, 3] (the inverse of x / 127.5 - 1)."""
  v = np.asarray(videos, dtype=np.float32)
  return np.clip(np.round((v + 1.0) * 127.5), 0, 255).astype(np.uint8)


def frame_grid(videos: np.ndarray, pad: int = 1) -> np.ndarray:
  """uint8 [B, T, H, W, 3] -> one image [B*(H+pad)-pad, T*(W+pad)-pad, 3]: a row per video, a column per frame."""
  b, t, h, w, c = videos.shape
  grid = np.zeros((b * (h + pad) - pad, t * (w + pad) - pad, c), np.uint8)
  for i in range(b):
    for j in range(t):
      grid[i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = videos[i, j]
  return grid


def video_tiles(videos: np.ndarray, columns: int, pad: int = 1) -> np.ndarray:
  """uint8 [B, T, H, W, 3] -> [T, rows*(H+pad)-pad, columns*(W+pad)-pad, 3]: all videos tiled, per frame."""
  b, t, h, w, c = videos.shape
  rows = -(-b // columns)
  out = np.zeros((t, rows * (h + pad) - pad, columns * (w + pad) - pad, c), np.uint8)
  for i in range(b):
    r, q = divmod(i, columns)
    out[:, r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = videos[i]
  return out


def _atomic_write(path: str, write_fn):
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  suffix = os.path.splitext(path)[1]
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
  os.close(fd)
  try:
    write_fn(tmp)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_png(path: str, image: np.ndarray, scale: int = 1):
  """Saves uint8 [H, W, 3] as PNG (nearest-neighbour upscaled by `scale`)."""
  from PIL import Image  # noqa: PLC0415
  img = Image.fromarray(image)
  if scale > 1:
    img = img.resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
  _atomic_write(path, lambda p: img.save(p, format="PNG"))


def write_gif(path: str, frames: np.ndarray, fps: int = 6, scale: int = 1):
  """Saves uint8 [T, H, W, 3] as a looping animated GIF (nearest-neighbour upscaled by `scale`)."""
  from PIL import Image  # noqa: PLC0415
  images = [Image.fromarray(f) for f in frames]
  if scale > 1:
    images = [im.resize((im.width * scale, im.height * scale), Image.NEAREST) for im in images]
  _atomic_write(path, lambda p: images[0].save(
      p, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0))


def write_samples(folder: str, name: str, videos, columns: int = 8, scale: int = 2) -> dict:
  """Writes `<name>.png` (frame grid: a row per video) and `<name>.gif` (all videos tiled, animated).

  Args:
    folder: output folder (created).
    name: file stem, e.g. "samples_000500".
    videos: [B, T, H, W, 3] float in [-1, 1].
  Returns:
    {"png": path, "gif": path, "grid": uint8 grid image [H', W', 3]}.
  """
  v = to_uint8(videos)
  grid = frame_grid(v)
  png = os.path.join(folder, name + ".png")
  gif = os.path.join(folder, name + ".gif")
  write_png(png, grid, scale=scale)
  write_gif(gif, video_tiles(v, columns=min(columns, v.shape[0])), scale=scale)
  return {"png": png, "gif": gif, "grid": grid}


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
