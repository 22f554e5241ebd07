"""The Kinetics-600 TFDS builder on a manual-download fixture written with PyAV inside the test.

The fixture: 12 small clips written with PyAV (mpeg4 .mp4, VP8 .webm, .mkv) at different sizes, aspect
ratios and frame rates, in four download layouts (<split>/<label>/<name>, <split>/<name>, flat, flat without
zero padding), official-style annotation CSVs, one corrupt file, one missing file and one too-short clip.
"""
import csv
import logging as py_logging
import os
import uuid

import numpy as np
import pytest
import tensorflow as tf
from absl import logging
import tensorflow_datasets as tfds

from dvd_gan.config import base_config
from dvd_gan.data import kinetics600, make_dataset, pipeline
from eval import io as eio
from tests.dvd_gan.data.video_files import write_video

# Real Kinetics class names, deliberately listed out of order: label indices must follow the sorted order.
CLASSES = ["zumba", "abseiling", "playing cricket", "air drumming"]
GOOD_TRAIN = [
    # (youtube_id, start, end, label, (height, width), fps, frames, layout, ext)
    ("aaaaaaaaaaa", 10, 20, "zumba", (32, 48), 10, 20, "nested", ".mp4"),
    ("b_b-bbbbbbb", 0, 10, "abseiling", (48, 32), 15, 18, "nested", ".mp4"),
    ("ccccccccccc", 5, 15, "playing cricket", (40, 40), 25, 24, "split", ".mp4"),
    ("ddddddddddd", 30, 40, "air drumming", (36, 64), 12, 17, "flat", ".mp4"),
    ("eeeeeeeeeee", 1, 11, "zumba", (64, 36), 24, 20, "flat_unpadded", ".mkv"),
    ("fffffffffff", 2, 12, "abseiling", (30, 40), 30, 16, "nested", ".mp4"),
    ("jjjjjjjjjjj", 8, 18, "abseiling", (24, 56), 6, 16, "nested", ".webm"),
    ("kkkkkkkkkkk", 9, 19, "playing cricket", (72, 40), 5, 18, "split", ".mp4"),
]
GOOD_VAL = [
    ("ggggggggggg", 3, 13, "playing cricket", (44, 32), 20, 19, "nested", ".mp4"),
    ("hhhhhhhhhhh", 4, 14, "air drumming", (32, 32), 8, 16, "flat", ".mp4"),
    ("iiiiiiiiiii", 7, 17, "zumba", (50, 34), 15, 21, "split", ".mkv"),
]
TOO_SHORT = ("shortshort1", 0, 10, "zumba", (32, 32), 10, 5, "nested", ".mp4")
CORRUPT = ("corruptcorr", 0, 10, "abseiling")
MISSING = ("missingmiss", 0, 10, "air drumming")
MIN_FRAMES = 16  # the builder configs' default


_write_video = write_video


def _clip_path(root, split_dir, clip):
  yid, start, end, label, _, _, _, layout, ext = clip
  name = f"{yid}_{start:06d}_{end:06d}{ext}"
  if layout == "nested":
    return os.path.join(root, split_dir, label.replace(" ", "_"), name)
  if layout == "split":
    return os.path.join(root, split_dir, name)
  if layout == "flat_unpadded":
    return os.path.join(root, f"{yid}_{start}_{end}{ext}")
  return os.path.join(root, name)


def _make_fixture(root):
  rows = {"train": [], "validate": []}
  for split_dir, clips in (("train", GOOD_TRAIN + [TOO_SHORT]), ("val", GOOD_VAL)):
    for i, clip in enumerate(clips):
      path = _clip_path(root, split_dir, clip)
      os.makedirs(os.path.dirname(path), exist_ok=True)
      _write_video(path, *clip[4], clip[5], clip[6], seed=i)
      rows["train" if split_dir == "train" else "validate"].append(clip[:4])
  corrupt = os.path.join(root, "train", "abseiling", f"{CORRUPT[0]}_000000_000010.mp4")
  with open(corrupt, "wb") as f:
    f.write(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))  # an mp4 header, then garbage
  rows["train"] += [CORRUPT, MISSING]
  os.makedirs(os.path.join(root, "annotations"))
  for name, split_rows in rows.items():
    with open(os.path.join(root, "annotations", f"{name}.csv"), "w", newline="") as f:
      writer = csv.writer(f)
      writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
      for label_yid in split_rows:
        yid, start, end, label = label_yid
        writer.writerow([label, yid, start, end, name])


class _Records(py_logging.Handler):

  def __init__(self):
    super().__init__(level=py_logging.INFO)
    self.messages = []

  def emit(self, record):
    self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
  """(builder, data_dir, log messages) of kinetics600/64 prepared from the fixture with 2 worker processes."""
  root = str(tmp_path_factory.mktemp("kinetics_manual"))
  _make_fixture(root)
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  records = _Records()
  absl_logger = py_logging.getLogger("absl")
  verbosity = logging.get_verbosity()
  logging.set_verbosity(logging.INFO)
  absl_logger.addHandler(records)
  try:
    builder = kinetics600.Kinetics600(config="64", data_dir=data_dir, num_workers=2)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=root))
  finally:
    absl_logger.removeHandler(records)
    logging.set_verbosity(verbosity)
  return builder, data_dir, records.messages


def test_counts_and_bad_files_reported(prepared):
  """Only the good clips are written; the corrupt, missing and too-short clips are counted per split."""
  builder, _, _ = prepared
  assert builder.info.splits["train"].num_examples == len(GOOD_TRAIN)
  assert builder.info.splits["validation"].num_examples == len(GOOD_VAL)
  skipped = kinetics600.skip_counts(builder)
  assert skipped["train"] == {"missing": 1, "unreadable": 1, "too_short": 1, "unknown_label": 0, "bad_annotation": 0}
  assert skipped["validation"] == {"missing": 0, "unreadable": 0, "too_short": 0, "unknown_label": 0,
                                   "bad_annotation": 0}
  reasons = {s["key"]: s["reason"] for s in builder.info.metadata["skipped_clips"]["train"]}
  assert reasons == {"corruptcorr_000000_000010": "unreadable", "missingmiss_000000_000010": "missing",
                     "shortshort1_000000_000010": "too_short"}


def test_bad_files_and_counts_in_log(prepared):
  """The build log names every skipped clip with its reason, gives each split's skip counts, and shows the
  clips were decoded by 2 worker processes (the parallel path)."""
  _, _, messages = prepared
  for key, reason in (("corruptcorr_000000_000010", "unreadable"), ("missingmiss_000000_000010", "missing"),
                      ("shortshort1_000000_000010", "too_short")):
    assert any(key in m and f"({reason})" in m for m in messages), (key, messages)
  summary = [m for m in messages if m.startswith("kinetics600 train:") and "clips written" in m]
  assert summary and f"{len(GOOD_TRAIN)} clips written" in summary[0]
  assert "'missing': 1" in summary[0] and "'unreadable': 1" in summary[0] and "'too_short': 1" in summary[0]
  assert any("train: decoding" in m and "with 2 worker process(es)" in m for m in messages)


def test_frames_stored_as_jpeg_and_decoded_size_recorded(prepared):
  """The stored frames are JPEG bytes, and metadata["decoded_bytes"][split] equals sum(T * H * W * 3) of the
  split's clips (what make_dataset's cache="auto" relies on)."""
  builder, _, _ = prepared
  assert builder.info.features["video"].feature.encoding_format == "jpeg"
  raw = builder.as_dataset(split="train", decoders={"video": tfds.decode.SkipDecoding()})
  for ex in tfds.as_numpy(raw.take(3)):
    assert all(f[:2] == b"\xff\xd8" and f[-2:] == b"\xff\xd9" for f in ex["video"])
  for split in ("train", "validation"):
    total = sum(int(np.prod(ex["video"].shape)) for ex in tfds.as_numpy(builder.as_dataset(split=split)))
    assert kinetics600.decoded_size(builder, split) == total


def test_builder_config_per_stored_resolution(tmp_path):
  """There is one builder config per stored shorter side (64, 128, 256); kinetics600/128 stores every frame
  with shorter side 128 and the source aspect ratio (in-process decoding, num_workers=1)."""
  assert [c.name for c in kinetics600.Kinetics600.BUILDER_CONFIGS] == ["64", "128", "256"]
  assert [c.size for c in kinetics600.Kinetics600.BUILDER_CONFIGS] == [64, 128, 256]
  root = tmp_path / "manual"
  clips = [GOOD_TRAIN[0], GOOD_TRAIN[1]]
  for i, clip in enumerate(clips):
    path = _clip_path(str(root), "train", clip)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _write_video(path, *clip[4], clip[5], clip[6], seed=i)
  with open(root / "train.csv", "w", newline="") as f:
    csv.writer(f).writerows([["label", "youtube_id", "time_start", "time_end", "split"]]
                            + [[c[3], c[0], c[1], c[2], "train"] for c in clips])
  builder = kinetics600.Kinetics600(config="128", data_dir=str(tmp_path / "tfds"), num_workers=1)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(root)))
  shapes = {ex["youtube_id"].decode(): ex["video"].shape for ex in tfds.as_numpy(builder.as_dataset(split="train"))}
  assert shapes == {c[0]: (c[6],) + kinetics600.clips_lib.scaled_size(*c[4], 128) + (3,) for c in clips}
  assert all(min(s[1:3]) == 128 for s in shapes.values())


def test_metadata_persists_after_reload(prepared):
  """A fresh builder on the prepared data_dir reads back the class names and the skip counts from disk."""
  _, data_dir, _ = prepared
  reloaded = tfds.builder("kinetics600/64", data_dir=data_dir)
  assert reloaded.info.features["label"].names == sorted(CLASSES)
  assert kinetics600.skip_counts(reloaded)["train"]["unreadable"] == 1


def test_shapes_frames_and_labels(prepared):
  """Every stored clip keeps all its frames, has shorter side 64 with the source aspect ratio, and its label is
  the index of its CSV class in the sorted class list."""
  builder, _, _ = prepared
  sorted_names = sorted(CLASSES)
  expected = {f"{c[0]}_{c[1]:06d}_{c[2]:06d}": c for c in GOOD_TRAIN + GOOD_VAL}
  seen = set()
  for split in ("train", "validation"):
    for ex in tfds.as_numpy(builder.as_dataset(split=split)):
      yid = ex["youtube_id"].decode()
      key = f"{yid}_{ex['time_start']:06d}_{ex['time_end']:06d}"
      clip = expected[key]
      (h, w), fps, frames = clip[4], clip[5], clip[6]
      video = ex["video"]
      assert video.dtype == np.uint8
      assert video.shape[0] == frames, key
      assert min(video.shape[1:3]) == 64
      assert video.shape[1:3] == kinetics600.clips_lib.scaled_size(h, w, 64)
      assert ex["label"] == sorted_names.index(clip[3])
      assert abs(ex["fps"] - fps) < 1e-3
      seen.add(key)
  assert seen == set(expected)


def test_beam_direct_runner_matches_local(prepared, tmp_path):
  """The Beam path (DirectRunner) writes the same clips as the process-pool path and counts the same skips
  and decoded size (from Beam counters).

  apache-beam is in the test extra (and the beam extra, see docs/data.md): a missing one is a failure.
  """
  import apache_beam as beam  # noqa: PLC0415 - optional dependency (beam/test extras): absent, only this test fails
  local_builder, _, _ = prepared
  root = str(tmp_path / "manual")
  _make_fixture(root)
  builder = kinetics600.Kinetics600(config="64", data_dir=str(tmp_path / "tfds"), use_beam=True)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=root, beam_runner=beam.runners.DirectRunner(),
      beam_options=beam.options.pipeline_options.PipelineOptions(flags=["--direct_num_workers=1"])))
  for split in ("train", "validation"):
    assert builder.info.splits[split].num_examples == local_builder.info.splits[split].num_examples
    local = {ex["youtube_id"]: (ex["label"], ex["video"].shape)
             for ex in tfds.as_numpy(local_builder.as_dataset(split=split))}
    beamed = {ex["youtube_id"]: (ex["label"], ex["video"].shape)
              for ex in tfds.as_numpy(builder.as_dataset(split=split))}
    assert beamed == local
    assert kinetics600.decoded_size(builder, split) == kinetics600.decoded_size(local_builder, split)
  assert kinetics600.skip_counts(builder)["train"] == kinetics600.skip_counts(local_builder)["train"]


def test_make_dataset_on_prepared_kinetics(prepared):
  """make_dataset reads the prepared builder: Kinetics prediction batches (5 context + 11 frames, stride 1)
  have the right shapes and labels; two input pipelines read disjoint halves covering every clip once."""
  _, data_dir, _ = prepared
  c = base_config()
  c.num_frames, c.resolution, c.batch_size = 11, 32, 2
  c.data.name, c.data.data_dir, c.data.stride, c.data.num_conditioning_frames = "kinetics600", data_dir, 1, 5
  b = next(make_dataset(c, split="train", training=True).as_numpy_iterator())
  assert b["video"].shape == (2, 11, 32, 32, 3) and b["context"].shape == (2, 5, 32, 32, 3)
  assert set(b["label"]) <= set(range(len(CLASSES)))
  per_pipeline = []
  for i in range(2):
    ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=i, num_replicas_in_sync=2)
    c.batch_size = 2  # per replica: 1
    per_pipeline.append(list(make_dataset(c, split="train", training=False, input_context=ctx)
                             .as_numpy_iterator()))
  assert [len(p) for p in per_pipeline] == [len(GOOD_TRAIN) // 2] * 2
  labels = sorted(int(x["label"][0]) for p in per_pipeline for x in p)
  assert labels == sorted(sorted(CLASSES).index(clip[3]) for clip in GOOD_TRAIN)


def test_cached_and_encoded_paths_agree(prepared):
  """cache="auto" caches the small fixture's decoded clips (its recorded size fits) and cache_max_bytes=1
  does not; the cached path (decode whole clips once) and the uncached path (decode only the chosen JPEG
  frames) give identical evaluation batches."""
  builder, data_dir, _ = prepared
  c = base_config()
  c.num_frames, c.resolution, c.batch_size = 6, 24, 2
  c.data.name, c.data.data_dir, c.data.stride, c.data.eval_frame_offset = "kinetics600", data_dir, 2, 1
  assert pipeline.cache_decoded(c, builder, "train", 1)
  c.data.cache_max_bytes = 1
  assert not pipeline.cache_decoded(c, builder, "train", 1)
  batches = {}
  for cache in ("memory", "none"):
    c.data.cache = cache
    batches[cache] = list(make_dataset(c, split="train", training=False).as_numpy_iterator())
  assert len(batches["memory"]) == len(GOOD_TRAIN) // 2
  for a, b in zip(batches["memory"], batches["none"]):
    np.testing.assert_allclose(a["video"], b["video"], atol=1e-5)
    np.testing.assert_array_equal(a["label"], b["label"])


class _ManualDirOnly:
  """The one attribute of a TFDS DownloadManager the builder's _split_generators reads. (TFDS itself turns
  manual_dir into an etils.epath.Path, which knows gs:// but rejects ram://, so download_and_prepare cannot
  be given a ram:// manual_dir; the builder's own readers are what this test is about.)"""

  def __init__(self, manual_dir):
    self.manual_dir = manual_dir


def test_builder_readers_on_a_non_local_filesystem(tmp_path):
  """The fixture copied to ram:// (served by tf.io.gfile like gs://): the annotations and the clip index read
  from it equal those read from the local copy (paths aside), and the builder's generators, decoding in
  process (num_workers=1: spawned workers cannot see an in-process filesystem), yield every good clip with
  its frames and label and skip the missing, corrupt and too-short ones; nothing lands on the local disk."""
  local = tmp_path / "manual"
  _make_fixture(str(local))
  remote = f"ram://kinetics_{uuid.uuid4().hex}"
  for folder, _, files in os.walk(local):
    for name in files:
      rel = os.path.relpath(os.path.join(folder, name), local)
      eio.write_bytes(eio.join(remote, *rel.split(os.sep)), open(os.path.join(folder, name), "rb").read())
  assert kinetics600.read_annotations(remote) == kinetics600.read_annotations(str(local))
  index_local, index_remote = kinetics600.index_clip_files(str(local)), kinetics600.index_clip_files(remote)
  assert set(index_remote) == set(index_local) and all(p.startswith(remote) for p in index_remote.values())
  builder = kinetics600.Kinetics600(config="64", data_dir=str(tmp_path / "tfds"), num_workers=1)
  generators = builder._split_generators(_ManualDirOnly(remote))
  examples = {split: dict(gen) for split, gen in generators.items()}
  good = {"train": GOOD_TRAIN, "validation": GOOD_VAL}
  for split, clips in good.items():
    assert set(examples[split]) == {kinetics600.clip_key(c[0], c[1], c[2]) for c in clips}
    for c in clips:
      ex = examples[split][kinetics600.clip_key(c[0], c[1], c[2])]
      assert len(ex["video"]) == c[6] and ex["label"] == sorted(CLASSES).index(c[3])
  assert builder.info.metadata["skipped"]["train"] == {"missing": 1, "unreadable": 1, "too_short": 1,
                                                       "unknown_label": 0, "bad_annotation": 0}
  assert not any(name.startswith("ram") for name in os.listdir(os.getcwd()))
