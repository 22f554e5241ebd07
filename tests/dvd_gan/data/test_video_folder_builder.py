"""The video-folder TFDS builder (dvd_gan.data.video_folder) on folders written here: PyAV mp4 and webm,
Pillow GIFs, PNG and JPEG frame folders, mixed sizes and aspect ratios, a corrupt file, a zero-length file and
a too-short clip. Preparation keeps what decodes, counts the rest by reason, records the folder in its
metadata, is reused while the folder is unchanged and redone when it changes; unusable folders leave nothing.
"""
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from dvd_gan.data import clip_builder, clips, video_folder
from dvd_gan.data import video_folder_layout as layout_lib
from dvd_gan.errors import UserError
from tests.dvd_gan.data.video_files import write_frame_folder, write_gif, write_video

SIZE, MIN_FRAMES = 16, 8
# (relative path, (height, width), frames, kind) of the videos that decode.
GOOD = [
    ("train/walk/a.mp4", (24, 32), 10, "video"),
    ("train/walk/b.webm", (32, 24), 9, "video"),
    ("train/walk/c", (20, 20), 8, "png"),
    ("train/jump/d.gif", (24, 40), 11, "gif"),
    ("train/jump/e", (30, 20), 9, "jpg"),
    ("validation/walk/f.mp4", (24, 32), 8, "video"),
    ("validation/jump/g.mp4", (18, 36), 12, "video"),
]


def write(root, rel, shape, num_frames, kind, seed):
  path = os.path.join(root, rel)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  if kind == "video":
    write_video(path, *shape, 10, num_frames, seed)
  elif kind == "gif":
    write_gif(path, *shape, num_frames, seed)
  else:
    write_frame_folder(path, *shape, num_frames, seed, ext="." + kind)


def write_folder(root, good=GOOD, bad=True):
  for i, (rel, shape, n, kind) in enumerate(good):
    write(root, rel, shape, n, kind, seed=i)
  if bad:
    write(root, "train/walk/short.mp4", (24, 32), 4, "video", seed=99)
    with open(os.path.join(root, "train/jump/corrupt.mp4"), "wb") as f:
      f.write(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    open(os.path.join(root, "train/jump/empty.mp4"), "wb").close()


def prepare(root, data_dir, **kwargs):
  layout = layout_lib.scan(str(root), **kwargs)
  return video_folder.prepare(layout, data_dir=str(data_dir), size=SIZE, min_frames=MIN_FRAMES, num_workers=1,
                              log=lambda s: None)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
  root = tmp_path_factory.mktemp("videos")
  write_folder(str(root))
  data_dir = tmp_path_factory.mktemp("tfds")
  return str(root), str(data_dir), prepare(root, data_dir)


def test_splits_classes_and_skip_counts(prepared):
  """Splits and classes follow the folders; the corrupt, empty and too-short files are counted by reason."""
  _, _, builder = prepared
  assert video_folder.class_names(builder) == ["jump", "walk"]
  assert {s: builder.info.splits[s].num_examples for s in builder.info.splits} == {"train": 5, "validation": 2}
  assert clip_builder.skip_counts(builder) == {
      "train": {"missing": 0, "unreadable": 1, "too_short": 1, "empty": 1},
      "validation": {"missing": 0, "unreadable": 0, "too_short": 0, "empty": 0}}
  assert video_folder.summary_lines(builder) == [
      "train: 5 clips kept (jump 2, walk 3); skipped: empty 1, too_short 1, unreadable 1",
      "validation: 2 clips kept (jump 1, walk 1); skipped: none"]


def test_every_frame_stored_at_the_shorter_side_with_its_label(prepared):
  _, _, builder = prepared
  expected = {rel.split("/", 1)[1]: (n,) + clips.scaled_size(*shape, SIZE) + (3,) for rel, shape, n, _ in GOOD}
  seen = {}
  for split in ("train", "validation"):
    for ex in builder.as_dataset(split=split).as_numpy_iterator():
      key = ex["path"].decode()
      seen[key.split("/", 1)[1]] = ex["video"].shape
      assert video_folder.class_names(builder)[ex["label"]] == key.split("/")[1]
  assert seen == expected


def test_metadata_records_the_folder(prepared):
  root, data_dir, builder = prepared
  reloaded = tfds.builder_from_directory(builder.data_dir)
  m = reloaded.info.metadata
  assert m["videos"] == root and m["fingerprint"] == layout_lib.scan(root).fingerprint
  assert m["class_names"] == ["jump", "walk"] and m["size"] == SIZE and m["min_frames"] == MIN_FRAMES
  assert clip_builder.decoded_size(reloaded, "train") == sum(
      n * np.prod(clips.scaled_size(*shape, SIZE)) * 3 for rel, shape, n, _ in GOOD if rel.startswith("train"))


def test_unchanged_folder_is_reused_and_a_changed_one_prepared_anew(tmp_path):
  root = tmp_path / "videos"
  write_folder(str(root), good=GOOD[:2] + GOOD[3:4], bad=False)
  first = prepare(root, tmp_path / "tfds")
  logs = []
  again = video_folder.prepare(layout_lib.scan(str(root)), data_dir=str(tmp_path / "tfds"), size=SIZE,
                               min_frames=MIN_FRAMES, num_workers=1, log=logs.append)
  assert again.data_dir == first.data_dir and "prepared already" in logs[0]
  write(str(root), "train/jump/new.mp4", (24, 32), 9, "video", seed=7)
  changed = prepare(root, tmp_path / "tfds")
  assert changed.data_dir != first.data_dir
  assert changed.info.splits["train"].num_examples == first.info.splits["train"].num_examples + 1


def _nothing_prepared(data_dir):
  return not os.path.exists(os.path.join(data_dir, video_folder.NAME))


def test_every_file_broken_is_a_user_error_and_leaves_nothing(tmp_path):
  root = tmp_path / "videos"
  os.makedirs(root / "a")
  (root / "a" / "x.mp4").write_bytes(b"garbage" * 100)
  (root / "a" / "y.mp4").write_bytes(b"")
  with pytest.raises(UserError, match="no usable training video .*1 empty, 1 unreadable"):
    prepare(root, tmp_path / "tfds", eval_fraction=0.0)
  assert _nothing_prepared(str(tmp_path / "tfds"))


def test_a_class_without_a_usable_clip_is_a_user_error_and_leaves_nothing(tmp_path):
  root = tmp_path / "videos"
  write(str(root), "ok/a.mp4", (24, 32), 9, "video", seed=1)
  write(str(root), "bad/b.mp4", (24, 32), 3, "video", seed=2)
  with pytest.raises(UserError, match="class 'bad' has no usable training video"):
    prepare(root, tmp_path / "tfds", eval_fraction=0.0)
  assert _nothing_prepared(str(tmp_path / "tfds"))


def test_ram_folder(tmp_path):
  """Videos on another filesystem (ram://, served by tf.io.gfile like gs://); in-process decoding. (TFDS
  itself writes data_dir through etils.epath, which knows gs:// but not ram://.)"""
  local = tmp_path / "videos"
  write_folder(str(local), good=GOOD[:1] + GOOD[2:4], bad=False)
  root = "ram://video_folder_builder/videos"
  for folder, _, names in os.walk(local):
    for name in names:
      rel = os.path.relpath(os.path.join(folder, name), local)
      tf.io.gfile.makedirs(os.path.dirname(f"{root}/{rel}"))
      tf.io.gfile.copy(os.path.join(folder, name), f"{root}/{rel}")
  builder = prepare(root, tmp_path / "tfds")
  assert builder.info.metadata["videos"] == root
  assert builder.info.splits["train"].num_examples == 3
  assert sorted(ex["path"].decode() for ex in builder.as_dataset(split="train").as_numpy_iterator()) == [
      "train/jump/d.gif", "train/walk/a.mp4", "train/walk/c"]


def test_beam_direct_runner_matches_local(prepared, tmp_path):
  """The Beam path (DirectRunner) writes the same examples (frames included) as the local path and counts
  the same skips and decoded size. apache-beam is in the test extra: a missing one is a failure."""
  import apache_beam as beam  # noqa: PLC0415 - optional dependency (beam/test extras): absent, only this test fails
  root, _, local_builder = prepared
  builder = video_folder.prepare(
      layout_lib.scan(root), data_dir=str(tmp_path / "tfds"), size=SIZE, min_frames=MIN_FRAMES, use_beam=True,
      download_config=tfds.download.DownloadConfig(
          beam_runner=beam.runners.DirectRunner(),
          beam_options=beam.options.pipeline_options.PipelineOptions(flags=["--direct_num_workers=1"])),
      log=lambda s: None)
  assert os.path.basename(os.path.dirname(builder.data_dir)) == os.path.basename(
      os.path.dirname(local_builder.data_dir))  # the same config name: the same folder and size
  for split in ("train", "validation"):
    local = {ex["path"]: (ex["label"], ex["video"].tobytes())
             for ex in tfds.as_numpy(local_builder.as_dataset(split=split))}
    beamed = {ex["path"]: (ex["label"], ex["video"].tobytes())
              for ex in tfds.as_numpy(builder.as_dataset(split=split))}
    assert beamed == local
    assert clip_builder.decoded_size(builder, split) == clip_builder.decoded_size(local_builder, split)
  assert clip_builder.skip_counts(builder) == clip_builder.skip_counts(local_builder)


def test_beam_user_error_leaves_nothing(tmp_path):
  """On Beam the training split is checked once written: a folder whose every file is broken is a UserError
  and the written dataset is removed."""
  import apache_beam as beam  # noqa: PLC0415 - optional dependency (beam/test extras)
  root = tmp_path / "videos"
  os.makedirs(root)
  (root / "x.mp4").write_bytes(b"garbage" * 100)
  with pytest.raises(UserError, match="no usable .*video"):
    video_folder.prepare(layout_lib.scan(str(root), eval_fraction=0.0), data_dir=str(tmp_path / "tfds"),
                         size=SIZE, min_frames=MIN_FRAMES, use_beam=True,
                         download_config=tfds.download.DownloadConfig(beam_runner=beam.runners.DirectRunner()),
                         log=lambda s: None)
  assert _nothing_prepared(str(tmp_path / "tfds"))


def _folder_config(root, data_dir):
  from dvd_gan.config import base_config  # noqa: PLC0415 - only these tests
  c = base_config()
  c.num_frames, c.resolution, c.num_classes = 4, SIZE, 0
  c.data.name, c.data.videos, c.data.data_dir, c.data.stride = "video_folder", root, data_dir, 2
  c.data.eval_split = "validation"
  return c


def test_non_chief_task_reuses_the_chief_s_preparation_and_never_prepares(prepared, tmp_path):
  """A multi-worker run's other tasks (prepare_here=False) read what the chief prepared; where nothing is
  prepared they wait for it and, past their limit, stop with one UserError without writing anything."""
  root, data_dir, builder = prepared
  config = _folder_config(root, data_dir)
  video_folder.resolve_config(config, log=lambda s: None, prepare_here=False, wait_s=0.0)
  assert config.data.tfds_config == os.path.basename(os.path.dirname(builder.data_dir))
  assert tuple(config.data.class_names) == ("jump", "walk")
  empty = str(tmp_path / "tfds")
  with pytest.raises(UserError, match="not prepared by the chief task"):
    video_folder.resolve_config(_folder_config(root, empty), log=lambda s: None, prepare_here=False,
                                wait_s=0.2, poll_s=0.05)
  assert _nothing_prepared(empty)


@pytest.mark.parametrize("spec", ["video_folder", "video_folder:small", "video_folder_fp",
                                  "video_folder_fp:small"])
def test_folder_configs_read_the_prepared_folder(prepared, spec):
  """Every folder config (shrunk to 4 frames at 16x16, + 2 conditioning frames for -fp) resolves on the
  prepared folder (no new preparation) and reads batches of its shapes; synthesis configs get the classes."""
  from dvd_gan import experiments  # noqa: PLC0415 - only this test
  from dvd_gan.config import resolve_config  # noqa: PLC0415 - as above
  from dvd_gan.data import make_dataset  # noqa: PLC0415 - as above
  root, data_dir, builder = prepared
  c = experiments.load(spec)
  c.num_frames, c.resolution, c.batch_size = 4, SIZE, 2
  c.data.videos, c.data.data_dir = root, data_dir
  fp = spec.startswith("video_folder_fp")
  if fp:
    c.data.num_conditioning_frames = 2
  c = resolve_config(c)
  assert c.data.tfds_config == os.path.basename(os.path.dirname(builder.data_dir))
  assert c.num_classes == (0 if fp else 2)
  batch = next(iter(make_dataset(c, split="train", training=True)))
  assert batch["video"].shape == (2, 4, SIZE, SIZE, 3)
  assert ("context" in batch) == fp and (not fp or batch["context"].shape == (2, 2, SIZE, SIZE, 3))


@pytest.mark.parametrize("spec", ["video_folder", "video_folder:small", "video_folder_fp",
                                  "video_folder_fp:small"])
def test_folder_configs_as_shipped_pass_the_model_checks(spec):
  """Each folder config at its own frames and resolution (not shrunk as above) is a model that builds: every
  network's stages fit its resolution, the DVD-GAN-FP conditioning network's included."""
  from dvd_gan import experiments  # noqa: PLC0415 - only this test
  from dvd_gan.models.build import check_config  # noqa: PLC0415 - as above
  check_config(experiments.load(spec))


def test_a_folder_without_an_evaluation_split_is_one_error_line_unless_train_is_named(tmp_path):
  """Split folders with train/ only: the run's evaluation split ("validation", no "test" either) holds no clip,
  which the start refuses in one line naming the way out; --config.data.eval_split=train is accepted."""
  root, data_dir = str(tmp_path / "videos"), str(tmp_path / "tfds")
  for i, (rel, shape, n, kind) in enumerate(g for g in GOOD if g[0].startswith("train/")):
    write(root, rel, shape, n, kind, seed=i)
  with pytest.raises(UserError) as e:
    video_folder.resolve_config(_folder_config(root, data_dir), log=lambda s: None)
  assert "\n" not in str(e.value)
  assert "no clip is in its evaluation split 'validation' (prepared splits: train;" in str(e.value)
  assert str(e.value).endswith("or pass --config.data.eval_split=train")
  config = _folder_config(root, data_dir)
  config.data.eval_split = "train"
  video_folder.resolve_config(config, log=lambda s: None)
  assert config.data.eval_split == "train" and config.data.tfds_config
