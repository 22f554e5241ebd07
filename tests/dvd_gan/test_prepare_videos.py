"""`python -m dvd_gan.prepare_videos`: a folder in, a prepared dataset and one summary line per split out;
every bad input is one `error:` line, exit status 2 and nothing written in --data_dir."""
import os

import pytest

from dvd_gan import prepare_videos
from tests.dvd_gan.data.video_files import write_video


def _run(capsys, *args):
  status = prepare_videos.main(["prepare_videos", "--num_workers=1", "--noprogress", *args])
  out, err = capsys.readouterr()
  return status, out, err


def test_prepares_and_reports_per_split_then_reuses(tmp_path, capsys):
  videos = tmp_path / "videos"
  for i, rel in enumerate(["train/b/1.mp4", "train/a/2.mp4", "train/a/3.mp4", "test/a/4.mp4", "test/b/5.mp4"]):
    os.makedirs(os.path.dirname(videos / rel), exist_ok=True)
    write_video(str(videos / rel), 24, 32, 10, 9 if rel != "train/a/3.mp4" else 3, seed=i)
  args = [f"--videos={videos}", f"--data_dir={tmp_path / 'tfds'}", "--resolution=16", "--min_frames=8"]
  status, out, _ = _run(capsys, *args)
  assert status == 0
  lines = out.splitlines()
  assert "train: 2 clips kept (a 1, b 1); skipped: too_short 1" in lines
  assert "test: 2 clips kept (a 1, b 1); skipped: none" in lines
  assert lines[-1].startswith("prepared: ") and os.path.isdir(lines[-1].split(": ", 1)[1])
  status, out, _ = _run(capsys, *args)
  assert status == 0 and "prepared already" in out


@pytest.mark.parametrize("files, message", [
    (None, "is not a folder"),  # DIR does not exist
    ({"notes.txt": b"no video"}, "no video under"),
    ({"a.mp4": b"garbage" * 50, "b.mp4": b""}, "no usable training video (1 empty, 1 unreadable)"),
    ({"a/1.mp4": None, "b/2.mp4": b"garbage"}, "class 'b' has no usable training video"),
])
def test_bad_input_is_one_error_line_and_nothing_written(tmp_path, capsys, files, message):
  videos = tmp_path / "videos"
  for i, (rel, data) in enumerate((files or {}).items()):
    os.makedirs(os.path.dirname(videos / rel), exist_ok=True)
    if data is None:
      write_video(str(videos / rel), 24, 32, 10, 9, seed=i)
    else:
      (videos / rel).write_bytes(data)
  data_dir = tmp_path / "tfds"
  status, _, err = _run(capsys, f"--videos={videos}", f"--data_dir={data_dir}", "--resolution=16",
                        "--min_frames=8")
  assert status == 2
  assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
  assert not data_dir.exists() or not os.listdir(data_dir)


def test_missing_videos_flag(capsys):
  status, _, err = _run(capsys)
  assert status == 2 and err.strip() == "error: --videos is required (the folder of videos)"
