"""A folder of videos in, a trained, evaluated and exported class-conditional DVD-GAN out (tiny sizes): the
first run prepares the folder and records its classes in config.json, evaluates with folder_fvd_small
against the held-out split during training, a resume reuses the prepared data and trains on, the end-of-run
figures and `dvd_gan.evaluate` score against the same held-out split, the export carries the class names and
`dvd_gan.sample --classes=NAME` samples a class by its folder's name. A resume whose folder changed refuses
before preparing anything. Without --config.data.videos, `--config=video_folder` is one error line.

The feature network is eval's tests' TinyNetwork (milliseconds): what is checked is which videos are scored,
not the I3D (tests/eval, tests/dvd_gan/evaluation/test_end_of_run.py)."""
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import eval as video_eval
from dvd_gan import evaluate as evaluate_cmd
from dvd_gan import experiments
from dvd_gan import export as export_lib
from dvd_gan import sample as sample_cmd
from dvd_gan import train as train_cmd
from dvd_gan.data import make_dataset
from dvd_gan.data import video_folder
from dvd_gan.errors import UserError
from dvd_gan.evaluation.periodic import read_metrics
from dvd_gan.training import config_changes
from dvd_gan.training import loop
from dvd_gan.training.loop import train
from eval import api
from eval import real_stats
from tests.dvd_gan.data.video_files import write_video
from tests.dvd_gan.training.conftest import make_tiny_config
from tests.eval.conftest import TinyNetwork
from tests.straight_run import trainer_variables

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


@pytest.fixture
def tiny_features(monkeypatch):
  net = TinyNetwork()
  monkeypatch.setattr(api, "get_feature_network", lambda name, weights=None: net)
  monkeypatch.setattr(video_eval, "get_feature_network", lambda name, weights=None: net)
  return net


def _config(folder, data_dir, num_steps=2):
  c = make_tiny_config(sample_every=1000, num_steps=num_steps)  # no sample videos: not what this test is about
  c.data.name, c.data.videos, c.data.data_dir = "video_folder", folder, str(data_dir)
  c.data.eval_split, c.data.prepare_workers, c.data.shuffle_buffer = "validation", 1, 8
  c.eval.protocols, c.eval.every_steps, c.eval.batch_size = ("folder_fvd_small",), 2, 16
  return c


def _stats_files(workdir):
  folder = os.path.join(workdir, "real_stats")
  return sorted(os.path.join(folder, f) for f in os.listdir(folder))


@pytest.mark.slow
def test_prepare_train_evaluate_resume_export_sample_by_class_name(folder, tmp_path, capsys, tiny_features,
                                                                 monkeypatch):
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
  # Scored during training against the held-out split (its 2 videos), cached under the prepared folder's name.
  assert [r["step"] for r in read_metrics(str(workdir))] == [2]
  assert "folder_fvd_small/fvd" in read_metrics(str(workdir))[0]
  [curve_stats] = _stats_files(workdir)
  real = real_stats.load(curve_stats)
  assert real.num_items == 2 and saved["data"]["tfds_config"] in real.metadata["dataset"]
  assert real.metadata["split"] == "validation"

  # The resume reuses the prepared data, trains on to step 4 (scored again) and ends with the figures, whose
  # reference set is the held-out split: the periodic evaluation's cached statistics of its 2 videos.
  # The resume gets the first run's trainer with every variable changed (building and tracing a second one
  # would be most of this test's time): it must restore all of them from checkpoint 2 to train on.
  trainer = first["trainer"]
  for v in trainer_variables(trainer).values():
    v.assign(v + tf.ones_like(v))
  monkeypatch.setattr(loop, "build_trainer", lambda config, strategy, build_models=None: trainer)
  resumed_config = _config(folder, data_dir, num_steps=4)
  resumed_config.eval.fvd_at_end, resumed_config.eval.num_videos = True, 64
  resumed = train(resumed_config, str(workdir), log=logs.append)
  assert resumed["step"] == 4 and any("resumed from" in line and "at step 2" in line for line in logs)
  out = capsys.readouterr().out
  assert "prepared already" in out and "clips kept" not in out  # reused, not decoded again
  assert os.listdir(data_dir / "video_folder") == prepared
  assert [r["step"] for r in read_metrics(str(workdir))] == [2, 4]
  figures = json.load(open(workdir / "fvd.json"))
  assert figures["num_videos"] == 2 and figures["splits"] == ["validation", "train"] and figures["step"] == 4
  assert any("real_reference (cached real statistics" in line for line in logs)

  # dvd_gan.evaluate: folder_fvd against the same held-out split, its statistics cached beside the curve's.
  assert evaluate_cmd.main(["dvd_gan.evaluate", f"--workdir={workdir}", "--progress=false",
                            "--batch_size=64"]) == 0
  assert capsys.readouterr().out.strip().splitlines()[-1].startswith("folder_fvd/fvd: ")
  [final_stats] = [f for f in _stats_files(workdir) if f != curve_stats]
  assert real_stats.load(final_stats).num_items == 2 and "folder_fvd-" in os.path.basename(final_stats)

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


def test_resume_with_a_changed_folder_refuses_before_preparing(folder, tmp_path, monkeypatch):
  """The run's config.json names another prepared folder (files were added since): the resume refuses in one
  line naming data.tfds_config, and the folder is not prepared (nothing decoded) for it."""
  workdir, data_dir = tmp_path / "run", tmp_path / "tfds"
  stored = _config(folder, data_dir)
  stored.data.tfds_config, stored.data.class_names = "r16_0123456789abcdef", tuple(CLASSES)
  os.makedirs(workdir / "checkpoints")
  (workdir / "checkpoints" / "ckpt-2.index").write_bytes(b"")
  config_changes.write_config(str(workdir), stored, log=lambda s: None)

  def no_preparing(*args, **kwargs):
    raise AssertionError("the folder was prepared")

  monkeypatch.setattr(video_folder, "prepare", no_preparing)
  with pytest.raises(UserError) as e:
    train(_config(folder, data_dir), str(workdir), log=lambda s: None)
  assert "\n" not in str(e.value)
  assert 'data.tfds_config "r16_0123456789abcdef" -> "r16_' in str(e.value)
  assert not os.path.exists(data_dir)


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


@pytest.mark.slow
def test_frame_prediction_trains_on_the_folder(folder, tmp_path):
  """DVD-GAN-FP on the folder (2 conditioning + 3 predicted frames of its clips, the video_folder_fp
  configs' data settings): 2 steps with finite losses, no class input, and sample files that continue the
  evaluation split's clips (2 of them, fewer than train.num_sample_videos = 4)."""
  c = _config(folder, tmp_path / "tfds")
  fp = experiments.load("video_folder_fp:small")
  c.data.name, c.data.stride, c.num_classes = fp.data.name, fp.data.stride, fp.num_classes
  c.train.conditional, c.eval.protocols, c.eval.every_steps = fp.train.conditional, fp.eval.protocols, 0
  c.num_frames, c.data.num_conditioning_frames = 3, 2
  c.model.ds_k, c.model.cond_multipliers = 5, (1, 1, 2)  # 16 -> 4x4, the ConvGRU's state
  c.train.sample_every = 2
  result = train(c, str(tmp_path / "run"), log=lambda s: None)
  assert result["step"] == 2 and all(math.isfinite(v) for v in result["last_metrics"].values())
  saved = json.load(open(tmp_path / "run" / "config.json"))
  assert saved["num_classes"] == 0 and saved["data"]["eval_split"] == "validation"
  grid = np.asarray(Image.open(tmp_path / "run" / "samples" / "samples_0000002.png"))
  assert grid.shape[:2] == (2 * (2 * 17 - 1), 2 * (5 * 17 - 1))  # 2 clips of 2 + 3 frames of 16 px, x2
