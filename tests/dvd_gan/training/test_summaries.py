"""dvd_gan.training.summaries.write_samples: the training loop's sample files."""
import numpy as np

from dvd_gan.training import summaries
from eval import video_io


def test_write_samples_writes_png_gif_and_mp4_grids(tmp_path):
  """6 videos of 3 frames at 8x10 with 4 columns: the PNG is the frame grid (a row per video), the GIF and
  the mp4 the animated tiles (2 rows of 4, 2x upscaled; the mp4 decodes with PyAV to the same frame count
  and size, its frames close to the GIF's, as H.264 is lossy)."""
  rng = np.random.default_rng(0)
  videos = np.tanh(rng.normal(size=(6, 3, 8, 10, 3))).astype(np.float32) * 0.1 + np.linspace(
      -0.8, 0.8, 6)[:, None, None, None, None].astype(np.float32)
  out = summaries.write_samples(str(tmp_path), "samples_0000002", videos, columns=4, scale=2)
  assert sorted(p.name for p in tmp_path.iterdir()) == [f"samples_0000002.{e}" for e in ("gif", "mp4", "png")]
  assert out["grid"].shape == (6 * 9 - 1, 3 * 11 - 1, 3)
  (_, gif), = video_io.read_file(out["gif"])
  (_, mp4), = video_io.read_file(out["mp4"])
  gif, mp4 = np.asarray(gif), np.asarray(mp4)
  assert gif.shape == mp4.shape == (3, 2 * (2 * 9 - 1), 2 * (4 * 11 - 1), 3)
  assert np.abs(gif.astype(int) - mp4.astype(int)).mean() < 8
