"""Writing videos: mp4 (PyAV, H.264, yuv420p), animated GIF (Pillow), PNG images and `.npy` arrays; the one
writer module of the project (training samples, the sample and predict commands, figures).

Every file goes through `eval.io` (temporary name, then rename): any filesystem TensorFlow knows (`gs://`...),
and never a half-written file.

mp4 is lossy (H.264 with 4:2:0 chroma subsampling): it is for people. To score videos with `eval`, write
`.npy` (uint8 `[N, T, H, W, 3]`, which `eval` reads as N videos) or score the generator's output directly;
re-encoded mp4 shifts FVD.
"""
import io as _stdlib_io
import os

import av
import numpy as np
from PIL import Image

from eval import io as eio

VIDEO_FORMATS = ("mp4", "gif", "npy")


def to_uint8(videos) -> np.ndarray:
  """Float video(s) in [-1, 1] (any shape) -> uint8 in [0, 255] (the inverse of x / 127.5 - 1)."""
  v = np.asarray(videos, dtype=np.float32)
  return np.clip(np.round((v + 1.0) * 127.5), 0, 255).astype(np.uint8)


def _check_frames(frames) -> np.ndarray:
  frames = np.asarray(frames)
  if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
    raise ValueError(f"a video must be uint8 [T, H, W, 3], got {frames.dtype} {list(frames.shape)}")
  return frames


def upscale(frames: np.ndarray, scale: int) -> np.ndarray:
  """Nearest-neighbour upscaling of [..., H, W, C] by an integer factor."""
  if scale <= 1:
    return frames
  return np.repeat(np.repeat(frames, scale, axis=-3), scale, axis=-2)


def pad_to_even(frames: np.ndarray) -> np.ndarray:
  """Pads [T, H, W, 3] with black at the bottom / right to even H and W (H.264 with yuv420p needs them)."""
  _, h, w, _ = frames.shape
  return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))


def encode_mp4(frames, fps: float = 8, crf: int = 18) -> bytes:
  """uint8 [T, H, W, 3] -> mp4 bytes (H.264, yuv420p; H and W padded to even)."""
  frames = pad_to_even(_check_frames(frames))
  buffer = _stdlib_io.BytesIO()
  with av.open(buffer, mode="w", format="mp4") as container:
    stream = container.add_stream("libx264", rate=int(round(fps)) or 1)
    stream.width, stream.height = frames.shape[2], frames.shape[1]
    stream.pix_fmt = "yuv420p"
    stream.options = {"crf": str(crf)}
    for frame in frames:
      for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)
  return buffer.getvalue()


def encode_gif(frames, fps: float = 8) -> bytes:
  """uint8 [T, H, W, 3] -> looping animated GIF bytes."""
  images = [Image.fromarray(f) for f in _check_frames(frames)]
  buffer = _stdlib_io.BytesIO()
  images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                 duration=int(round(1000 / fps)), loop=0)
  return buffer.getvalue()


def encode_png(image) -> bytes:
  """uint8 [H, W, 3] -> PNG bytes."""
  buffer = _stdlib_io.BytesIO()
  Image.fromarray(np.asarray(image, np.uint8)).save(buffer, format="PNG")
  return buffer.getvalue()


def encode_npy(array) -> bytes:
  buffer = _stdlib_io.BytesIO()
  np.save(buffer, np.asarray(array), allow_pickle=False)
  return buffer.getvalue()


def write_video(path: str, frames, fps: float = 8, scale: int = 1) -> str:
  """Writes one video uint8 [T, H, W, 3] to `path`; the format is the extension (.mp4, .gif, .npy)."""
  ext = os.path.splitext(eio.basename(path))[1].lower().lstrip(".")
  frames = upscale(_check_frames(frames), scale)
  if ext == "mp4":
    data = encode_mp4(frames, fps)
  elif ext == "gif":
    data = encode_gif(frames, fps)
  elif ext == "npy":
    data = encode_npy(frames)
  else:
    raise ValueError(f"unknown video format {ext!r} of {path}; formats: {', '.join(VIDEO_FORMATS)}")
  return eio.write_bytes(path, data)


def write_videos_npy(path: str, videos) -> str:
  """Writes uint8 [N, T, H, W, 3] as one .npy file (N videos, as `eval` reads it)."""
  videos = np.asarray(videos)
  if videos.ndim != 5 or videos.shape[-1] != 3 or videos.dtype != np.uint8:
    raise ValueError(f"videos must be uint8 [N, T, H, W, 3], got {videos.dtype} {list(videos.shape)}")
  return eio.write_bytes(path, encode_npy(videos))


def write_png(path: str, image, scale: int = 1) -> str:
  """Writes uint8 [H, W, 3] as PNG (nearest-neighbour upscaled by `scale`)."""
  return eio.write_bytes(path, encode_png(upscale(np.asarray(image, np.uint8), scale)))


def frame_grid(videos: np.ndarray, pad: int = 1) -> np.ndarray:
  """uint8 [B, T, H, W, 3] -> one image [B*(H+pad)-pad, T*(W+pad)-pad, 3]: a row per video, a column per frame."""
  b, t, h, w, c = videos.shape
  grid = np.zeros((b * (h + pad) - pad, t * (w + pad) - pad, c), np.uint8)
  for i in range(b):
    for j in range(t):
      grid[i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = videos[i, j]
  return grid


def video_tiles(videos: np.ndarray, columns: int, pad: int = 1) -> np.ndarray:
  """uint8 [B, T, H, W, 3] -> one video [T, rows*(H+pad)-pad, columns*(W+pad)-pad, 3]: all videos tiled."""
  b, t, h, w, c = videos.shape
  rows = -(-b // columns)
  out = np.zeros((t, rows * (h + pad) - pad, columns * (w + pad) - pad, c), np.uint8)
  for i in range(b):
    r, q = divmod(i, columns)
    out[:, r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = videos[i]
  return out
