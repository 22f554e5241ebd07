"""A user's folder of videos as a TFDS dataset: the Kinetics-600 machinery (dvd_gan.data.clip_builder)
pointed at the videos `dvd_gan.data.video_folder_layout.scan` finds (docs/data.md, "Your own videos").

    layout = video_folder_layout.scan(DIR)
    builder = prepare(layout, data_dir=DATA_DIR, size=64, min_frames=24, num_workers=2)
    builder.as_dataset(split="train")

Stored like Kinetics-600: every frame, resized to shorter side `size`, as JPEG inside a tfds.features.Video;
"label" indexes the folder's sorted class names (0 for every video of an unconditional folder), "path" is
the video's path relative to DIR. Builder config name: `r<size>_<first 16 hex digits of the fingerprint>`,
so a changed folder (a file added, removed, renamed or resized) gets a new name and is prepared anew, never
mixed with the old one. Prepared data: `<data_dir>/video_folder/<config name>/1.0.0` (data_dir "" = the
TFDS default, ~/tensorflow_datasets or $TFDS_DATA_DIR); TFDS writes it into a temporary folder renamed at the
end, and a failed preparation removes that folder: a dataset is either complete or absent.

Skipped and counted per split (metadata "skipped"): "missing", "unreadable" (broken file or frame),
"too_short" (fewer than min_frames frames), "empty" (zero-length file). Metadata also holds the folder
("videos"), "fingerprint", "class_names" ([] = unconditional), "labels", "size", "min_frames" and
"decoded_bytes" (the input pipeline's cache decision). A training split where every video was skipped, or
where a class kept no video, is a UserError, and nothing is left prepared.
"""
import collections
import os
import time
from typing import Dict, List, Optional

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from dvd_gan.data import clip_builder
from dvd_gan.data import video_folder_layout as layout_lib
from dvd_gan.data.video_folder_clips import EMPTY, process_video
from dvd_gan.errors import UserError
from eval import io as eio

NAME = "video_folder"
DATASET_VERSION = "1.0.0"
UNCONDITIONAL_LABEL = "video"  # the one ClassLabel name of an unconditional folder


class VideoFolderConfig(tfds.core.BuilderConfig):
  """Stored resolution: frames resized so their shorter side is `size` (aspect kept)."""

  def __init__(self, *, size: int, min_frames: int = 16, jpeg_quality: int = 90, **kwargs):
    super().__init__(**kwargs)
    self.size = size
    self.min_frames = min_frames
    self.jpeg_quality = jpeg_quality


def config_name(fingerprint: str, size: int) -> str:
  return f"r{int(size)}_{fingerprint[:16]}"


def default_data_dir() -> str:
  """Where TFDS puts datasets when no data_dir is given."""
  return os.path.expanduser(tfds.core.constants.DATA_DIR)


def dataset_dir(data_dir: str, name: str) -> str:
  """The folder of the prepared dataset `name` (config_name) in data_dir ("" = TFDS default)."""
  return eio.join(data_dir or default_data_dir(), NAME, name, DATASET_VERSION)


def is_prepared(data_dir: str, name: str) -> bool:
  return eio.exists(eio.join(dataset_dir(data_dir, name), "dataset_info.json"))


def load_builder(data_dir: str, name: str) -> tfds.core.DatasetBuilder:
  """The prepared dataset `name` in data_dir, read from its folder (no source folder needed)."""
  if not is_prepared(data_dir, name):
    raise UserError(f"the video folder dataset {name} is not prepared in {data_dir or default_data_dir()}: "
                    f"run python -m dvd_gan.prepare_videos (docs/data.md)")
  return tfds.builder_from_directory(dataset_dir(data_dir, name))


def class_names(builder) -> List[str]:
  """Class names of a prepared folder in label order ([] = unconditional)."""
  return list(builder.info.metadata.get("class_names", []))


class VideoFolder(clip_builder.ClipBuilder):
  """The videos of a user's folder, frames stored as JPEG at a fixed shorter side (module docstring)."""

  NAMESPACE = NAME
  EXTRA_STATUSES = (EMPTY,)
  VERSION = tfds.core.Version(DATASET_VERSION)
  RELEASE_NOTES = {DATASET_VERSION: "JPEG frames at full frame rate, skip counts, folder fingerprint in metadata."}

  def __init__(self, *, layout: layout_lib.Layout, **kwargs):
    self._layout = layout
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    names = self._layout.class_names or [UNCONDITIONAL_LABEL]
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "video": tfds.features.Video(shape=(None, None, None, 3), encoding_format="jpeg"),
            "label": tfds.features.ClassLabel(names=names),
            "path": tfds.features.Text(),
            "fps": np.float32,
        }),
        supervised_keys=("video", "label"),
        metadata=tfds.core.MetadataDict(),
    )

  def _split_generators(self, dl_manager):
    del dl_manager
    layout, cfg = self._layout, self.builder_config
    m = self.info.metadata
    m.update({"videos": layout.root, "fingerprint": layout.fingerprint, "class_names": layout.class_names,
              "labels": layout.labels, "size": cfg.size, "min_frames": cfg.min_frames, "skipped": {},
              "skipped_clips": {}, clip_builder.DECODED_BYTES: {}})
    index = {n: i for i, n in enumerate(layout.class_names)}
    return {split: self._generate_examples(
        items=[{"key": v.key, "path": v.path, "frames": list(v.frames), "size": v.size,
                "label_index": index[v.label] if v.label is not None else 0} for v in videos], split=split)
        for split, videos in sorted(layout.splits.items())}

  def _process_fn(self):
    return process_video

  def _process_kwargs(self):
    cfg = self.builder_config
    return dict(size=cfg.size, min_frames=cfg.min_frames, jpeg_quality=cfg.jpeg_quality,
                load_clip=self._load_clip)

  def _generate_locally(self, items, split, kwargs):
    """The base's generation, then the check that the training split kept a video of every class."""
    kept = collections.Counter()
    for key, example in super()._generate_locally(items, split, kwargs):
      kept[example["label"]] += 1
      yield key, example
    if split == "train":
      check_training_split(self._layout, kept, self.info.metadata["skipped"].get(split, {}))


def check_training_split(layout: layout_lib.Layout, kept: Dict[int, int], skipped: Dict[str, int]) -> None:
  """UserError when the training split kept no video, or none of some class (kept: {label index: n})."""
  reasons = ", ".join(f"{n} {r}" for r, n in sorted(skipped.items()) if n) or "none skipped"
  if not sum(kept.values()):
    raise UserError(f"{layout.root}: no usable training video ({reasons})")
  for i, name in enumerate(layout.class_names):
    if not kept.get(i):
      raise UserError(f"{layout.root}: class {name!r} has no usable training video ({reasons} in all)")


def prepare(layout: layout_lib.Layout, *, data_dir: str = "", size: int = 64, min_frames: int = 16,
            num_workers: Optional[int] = None, use_beam: bool = False, download_config=None,
            progress: bool = True, log=logging.info) -> tfds.core.DatasetBuilder:
  """Prepares `layout` into `<data_dir>/video_folder/<config_name>/` unless that exists; returns the
  prepared builder. UserError (and nothing left in data_dir) when the folder yields no usable training set."""
  name = config_name(layout.fingerprint, size)
  if is_prepared(data_dir, name):
    log(f"video folder {layout.root}: prepared already in {dataset_dir(data_dir, name)}")
    return load_builder(data_dir, name)
  root = data_dir or default_data_dir()
  new_dirs = [d for d in (root, eio.join(root, "downloads")) if not eio.exists(d)]  # TFDS makes these
  config = VideoFolderConfig(name=name, size=int(size), min_frames=int(min_frames),
                             description=f"{layout.root}, shorter side {size}")
  builder = VideoFolder(layout=layout, config=config, data_dir=data_dir or None, num_workers=num_workers,
                        use_beam=use_beam)
  log(f"video folder {layout.root}: preparing {len(layout.videos)} videos into {builder.data_dir}")
  try:
    if not progress:
      tfds.disable_progress_bar()
    try:
      builder.download_and_prepare(download_config=download_config)
    except ValueError as e:
      # On Beam TFDS itself refuses a split where every video was skipped, before our check can run.
      if use_beam and "generated examples is 0" in str(e):
        raise UserError(f"{layout.root}: no usable video in a split ({str(e).split('for split ')[-1]})") from None
      raise
    prepared = load_builder(data_dir, name)
    if use_beam:  # the local path checks while writing; Beam's counts exist only once it has written
      check_training_split(layout, _kept_per_label(prepared, "train"), clip_builder.skip_counts(prepared).get(
          "train", {}))
  except BaseException:
    if use_beam:
      eio.remove(dataset_dir(data_dir, name))
    _remove_empty_parents(dataset_dir(data_dir, name))
    for d in reversed(new_dirs):
      _remove_if_empty(d)
    raise
  return prepared


def _kept_per_label(builder, split: str) -> Dict[int, int]:
  """{label index: examples} of a prepared split ({} when the split is absent)."""
  if split not in builder.info.splits:
    return {}
  return dict(collections.Counter(int(ex["label"]) for ex in builder.as_dataset(
      split=split, decoders={"video": tfds.decode.SkipDecoding()}).as_numpy_iterator()))


def _remove_empty_parents(folder: str) -> None:
  """Removes `folder`'s config and dataset folders when a failed preparation left them empty."""
  for path in (eio.dirname(folder), eio.dirname(eio.dirname(folder))):
    _remove_if_empty(path)


def _remove_if_empty(path: str) -> None:
  """Removes folder `path` if no file lies anywhere below it."""
  try:
    if eio.isdir(path) and not any(files for _, _, files in eio.walk(path)):
      eio.remove(path)
  except eio.io_errors():
    pass


def summary_lines(builder) -> List[str]:
  """One line per split: clips kept per class, skipped by reason."""
  names = class_names(builder)
  skipped = clip_builder.skip_counts(builder)
  lines = []
  for split in sorted(builder.info.splits.keys()):
    total = builder.info.splits[split].num_examples
    if names:
      counts = _kept_per_label(builder, split)
      kept = ", ".join(f"{n} {counts.get(i, 0)}" for i, n in enumerate(names))
    else:
      kept = str(total)
    skips = ", ".join(f"{r} {n}" for r, n in sorted(skipped.get(split, {}).items()) if n) or "none"
    lines.append(f"{split}: {total} clips kept ({kept}); skipped: {skips}")
  return lines


def planned_name(config) -> str:
  """The data.tfds_config `resolve_config` gives `config` (a video_folder config with data.videos): its folder
  scanned (paths and sizes), nothing decoded or prepared."""
  d = config.data
  return config_name(layout_lib.scan(d.videos, labels=d.labels).fingerprint, int(config.resolution))


def resolve_config(config, log=logging.info, *, prepare_here: bool = True, wait_s: float = 24 * 3600.0,
                   poll_s: float = 10.0) -> None:
  """For config.data.name == "video_folder", in place: prepares config.data.videos unless prepared already
  (stored at config.resolution, min_frames = the clip span the config needs), then sets data.tfds_config,
  data.class_names and, when the folder has no data.eval_split, data.eval_split = "test" if it has one. A
  config whose tfds_config is set (a run's config.json) is left as it is: its dataset is named already.

  prepare_here=False (a multi-worker run's non-chief task): never prepares; waits up to `wait_s` seconds
  (checking every `poll_s`) for the chief to finish preparing the same folder, then UserError."""
  from dvd_gan.data import preprocessing  # noqa: PLC0415 - preprocessing loads TensorFlow ops; this module not
  d = config.data
  if d.name != NAME or d.tfds_config:
    return
  if not d.videos:
    raise UserError("config.data.videos is required with data.name = 'video_folder': pass "
                    "--config.data.videos=DIR (a folder of videos)")
  layout = layout_lib.scan(d.videos, labels=d.labels)
  span = preprocessing.frame_span(int(d.num_conditioning_frames) + int(config.num_frames), int(d.stride))
  name = config_name(layout.fingerprint, int(config.resolution))
  fresh = not is_prepared(d.data_dir, name)
  if fresh and not prepare_here:
    log(f"video folder {layout.root}: waiting for the chief task to prepare it ({name})")
    deadline = time.monotonic() + wait_s
    while not is_prepared(d.data_dir, name):
      if time.monotonic() >= deadline:
        raise UserError(f"video folder {layout.root}: not prepared by the chief task within {wait_s:g} s "
                        f"(expected {dataset_dir(d.data_dir, name)})")
      time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))
    fresh = False
  builder = prepare(layout, data_dir=d.data_dir, size=int(config.resolution), min_frames=span,
                    num_workers=int(d.prepare_workers) or None, log=log)
  if fresh:
    for line in summary_lines(builder):
      log(line)
  stored_min = int(builder.info.metadata.get("min_frames", span))
  if stored_min > span:
    log(f"video folder: prepared with min_frames {stored_min}: videos of {span}..{stored_min - 1} frames "
        f"were skipped there")
  d.tfds_config = name
  d.class_names = tuple(class_names(builder))
  splits = set(builder.info.splits.keys())
  if d.eval_split.split("[")[0] not in splits and "test" in splits:
    d.eval_split = "test"
  if d.eval_split.split("[")[0] not in splits:
    # Refused at the start: the run's samples (frame prediction) and evaluations read this split, and a run
    # should not fail at its first evaluation hours later.
    raise UserError(f"video folder {layout.root}: no clip is in its evaluation split {d.eval_split!r} (prepared "
                    f"splits: {', '.join(sorted(splits))}; without split folders about "
                    f"{layout_lib.EVAL_FRACTION:.0%} of the videos are held out, by path): add videos, a "
                    f"validation/ folder, or pass --config.data.eval_split=train")
