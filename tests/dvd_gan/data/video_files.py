"""Small videos written by the tests themselves: PyAV files (mpeg4 .mp4/.mkv/.avi, VP8 .webm), Pillow GIFs
and PNG/JPEG frame folders; each frame is the same random image shifted by t pixels (real motion)."""
import os

import av
import numpy as np
from PIL import Image


def frames(height, width, num_frames, seed):
  """[num_frames, height, width, 3] uint8: a random image rolled by t pixels along the width at frame t."""
  base = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
  return np.stack([np.roll(base, t, axis=1) for t in range(num_frames)])


def write_video(path, height, width, fps, num_frames, seed):
  """A PyAV-encoded video file (VP8 for .webm, mpeg4 otherwise)."""
  with av.open(path, mode="w") as container:
    stream = container.add_stream("libvpx" if path.endswith(".webm") else "mpeg4", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    for image in frames(height, width, num_frames, seed):
      for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)


def write_gif(path, height, width, num_frames, seed, fps=10):
  images = [Image.fromarray(f) for f in frames(height, width, num_frames, seed)]
  images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)


def write_frame_folder(folder, height, width, num_frames, seed, ext=".png"):
  """Frames named frame_1.png ... frame_N.png (unpadded: their order must come from the numbers)."""
  os.makedirs(folder, exist_ok=True)
  for t, image in enumerate(frames(height, width, num_frames, seed)):
    Image.fromarray(image).save(os.path.join(folder, f"frame_{t + 1}{ext}"))
