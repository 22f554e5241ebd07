"""eval.video_writer: mp4 / GIF / npy files decode back to the frames written (mp4 lossy, within tolerance)."""
import numpy as np
import pytest

from eval import video_io, video_writer


def _video(t=5, h=18, w=22, seed=0):
  """Smooth colour ramps (H.264 keeps them nearly exact), uint8 [T, H, W, 3]."""
  rng = np.random.default_rng(seed)
  base = rng.integers(40, 200, size=(1, 1, 1, 3))
  ramp = np.arange(t)[:, None, None, None] * 8 + np.zeros((t, h, w, 3))
  return np.clip(base + ramp, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("ext", ["mp4", "gif", "npy"])
def test_written_video_decodes_to_the_frame_count_and_size(tmp_path, ext):
  frames = _video()
  path = video_writer.write_video(str(tmp_path / f"v.{ext}"), frames, fps=8)
  back = np.asarray(next(iter(video_io.read_file(path)))[1])
  if ext == "mp4":  # padded to even sizes for yuv420p; lossy
    assert back.shape == (5, 18, 22, 3)
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 4
  else:
    np.testing.assert_array_equal(back, frames)


def test_odd_sizes_are_padded_to_even_for_mp4(tmp_path):
  frames = _video(h=17, w=9)
  path = video_writer.write_video(str(tmp_path / "odd.mp4"), frames)
  back = np.asarray(next(iter(video_io.read_file(path)))[1])
  assert back.shape == (5, 18, 10, 3)


def test_npy_of_many_videos_reads_as_n_videos(tmp_path):
  videos = np.stack([_video(seed=s) for s in range(3)])
  path = video_writer.write_videos_npy(str(tmp_path / "set.npy"), videos)
  got = [v for _, v in video_io.iter_videos(path)]
  assert len(got) == 3
  np.testing.assert_array_equal(np.asarray(got[2]), videos[2])


def test_bad_input_is_refused_without_a_file(tmp_path):
  with pytest.raises(ValueError, match="uint8"):
    video_writer.write_video(str(tmp_path / "x.mp4"), np.zeros((2, 4, 4, 3), np.float32))
  with pytest.raises(ValueError, match="unknown video format"):
    video_writer.write_video(str(tmp_path / "x.avi2"), _video())
  assert list(tmp_path.iterdir()) == []


def test_to_uint8_inverts_the_model_scaling():
  x = np.arange(256, dtype=np.float32) / 127.5 - 1.0
  np.testing.assert_array_equal(video_writer.to_uint8(x), np.arange(256, dtype=np.uint8))


def test_grid_layouts():
  videos = np.stack([np.full((2, 3, 4, 3), i, np.uint8) for i in range(3)])
  grid = video_writer.frame_grid(videos, pad=1)
  assert grid.shape == (3 * 4 - 1, 2 * 5 - 1, 3)
  assert grid[4, 0, 0] == 1  # row 1 = video 1
  tiles = video_writer.video_tiles(videos, columns=2, pad=1)
  assert tiles.shape == (2, 2 * 4 - 1, 2 * 5 - 1, 3)
  assert tiles[0, 4, 0, 0] == 2  # video 2 starts the second row
