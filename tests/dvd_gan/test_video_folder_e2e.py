"""A folder of videos in, a trained and exported class-conditional DVD-GAN out (tiny sizes): the first run
prepares the folder and records its classes in config.json, a resume reuses the prepared data, the export
carries the class names and `dvd_gan.sample --classes=NAME` samples a class by its folder's name. Without
--config.data.videos, `--config=video_folder` is one error line."""
import json
import os

import pytest

from dvd_gan import export as export_lib
from dvd_gan import sample as sample_cmd
from dvd_gan import train as train_cmd
from dvd_gan.data import make_dataset
from dvd_gan.errors import UserError
from dvd_gan.training.loop import train
from tests.dvd_gan.data.video_files import write_video
from tests.dvd_gan.training.conftest import make_tiny_config

CLASSES = ["jump", "walk"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
  root = tmp_path_factory.mktemp("videos")
  for c, name in enumerate(CLASSES):
    for i, split in enumerate(["train", "train", "validation"]):
      path = root / split / name / f"{i}.mp4"
      os.makedirs(path.parent, exist_ok=True)
      write_video(str(path), 24, 32 + 8 * i, 10, 8, seed=10 * c + i)
  return str(root)


def _config(folder, data_dir, num_steps=2):
  c = make_tiny_config(sample_every=1000, num_steps=num_steps)  # no sample videos: not what this test is about
  c.data.name, c.data.videos, c.data.data_dir = "video_folder", folder, str(data_dir)
  c.data.eval_split, c.data.prepare_workers, c.data.shuffle_buffer = "validation", 1, 8
  return c


@pytest.mark.slow
def test_prepare_train_resume_export_sample_by_class_name(folder, tmp_path, capsys):
  workdir, data_dir = tmp_path / "run", tmp_path / "tfds"
  logs = []
  first = train(_config(folder, data_dir), str(workdir), log=logs.append)
  assert first["step"] == 2
  assert "train: 4 clips kept (jump 2, walk 2); skipped: none" in capsys.readouterr().out
  saved = json.load(open(workdir / "config.json"))
  assert saved["data"]["class_names"] == CLASSES and saved["num_classes"] == 2
  assert saved["data"]["tfds_config"].startswith("r16_")
  prepared = os.listdir(data_dir / "video_folder")
  assert prepared == [saved["data"]["tfds_config"]]

  # The resume restores step 2 and stops there (its reading of the prepared data is what is tested here; a
  # resume that trains on is tests/dvd_gan/training's, and would cost another trace of the step).
  resumed = train(_config(folder, data_dir), str(workdir), log=logs.append)
  assert resumed["step"] == 2 and any("resumed from" in line and "at step 2" in line for line in logs)
  out = capsys.readouterr().out
  assert "prepared already" in out and "clips kept" not in out  # reused, not decoded again
  assert os.listdir(data_dir / "video_folder") == prepared

  run_config = _config_from_run(workdir)
  run_config.batch_size = 2  # the held-out split's 2 videos, one per class
  batch = next(iter(make_dataset(run_config, split="validation", training=False)))
  assert batch["video"].shape == (2, 4, 16, 16, 3) and sorted(batch["label"].numpy()) == [0, 1]

  export_dir = tmp_path / "export"
  info = export_lib.export(str(workdir), str(export_dir), log=lambda s: None)
  assert info["class_names"] == CLASSES
  samples = tmp_path / "samples"
  assert sample_cmd.main(["dvd_gan.sample", f"--saved_model={export_dir}", f"--out={samples}", "--classes=walk",
                          "--num=1", "--format=gif", "--progress=false"]) == 0
  listed = json.load(open(samples / "samples.json"))["files"]
  assert [f["file"] for f in listed] == ["0000_c001_walk.gif"]

  # A file added: the folder is prepared anew under another name, and the resume refuses to mix the two.
  write_video(os.path.join(folder, "train", "walk", "new.mp4"), 24, 32, 10, 8, seed=99)
  with pytest.raises(UserError, match="data.tfds_config"):
    train(_config(folder, data_dir), str(workdir), log=logs.append)
  assert len(os.listdir(data_dir / "video_folder")) == 2


def _config_from_run(workdir):
  import ml_collections  # noqa: PLC0415 - only this helper
  return ml_collections.ConfigDict(json.load(open(workdir / "config.json")))


def test_train_without_videos_is_one_error_line(tmp_path, capsys):
  workdir = tmp_path / "run"
  status = train_cmd.main(["dvd_gan.train", "--config=video_folder:small", f"--workdir={workdir}"])
  err = capsys.readouterr().err
  assert status == 2 and not workdir.exists()
  assert err.strip().splitlines() == ["error: config.data.videos is required with data.name = 'video_folder': "
                                      "pass --config.data.videos=DIR (a folder of videos)"]
