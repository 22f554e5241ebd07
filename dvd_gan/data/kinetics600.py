"""TFDS builder for Kinetics-600 from a manual download (annotation CSVs + clip files).

    import tensorflow_datasets as tfds
    import dvd_gan.data.kinetics600  # registers "kinetics600"
    builder = tfds.builder("kinetics600/64", data_dir=...)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=...))

Builder configs ("64", "128", "256"): the shorter side of the stored frames; every frame of the clip is kept
(full frame rate), stored as JPEG inside a `tfds.features.Video`. Labels are indices into the sorted list
of class names of the training annotations (the official Kinetics-600 class order).

Clips whose file is missing, cannot be decoded or has fewer than `min_frames` frames are skipped and counted,
never crash the build; so are annotation rows with a blank youtube_id, time_start or time_end
("bad_annotation", keyed `<csv name>:<line>`), clips whose decoder kills its worker process (a segfault in
FFmpeg: the clips in flight are retried once, each alone, and one that crashes again is "unreadable") and
clips that decode for longer than `clip_timeout_s` (default 300 s; "unreadable" at once, no retry; the
other clips of the killed pool are decoded again) -- dvd_gan/data/worker_pool.py. The crash and time limit
handling needs worker processes (num_workers >= 2): in-process decoding cannot survive or stop its decoder.
The counts (and the skipped clip ids) are logged and stored in
`builder.info.metadata["skipped"]` / `["skipped_clips"]`. `["decoded_bytes"][split]` holds the uint8 size
of the split's decoded frames (sum of T * H * W * 3), used by the input pipeline to decide whether the decoded
clips fit in the in-memory cache.

Generation is parallel: a process pool over `num_workers` local processes (default: all cores; they are
spawned and re-import the main module, so a script must call download_and_prepare under
`if __name__ == "__main__":`, else the build ends with one UserError saying so), or, with
`Kinetics600(use_beam=True)` and a `DownloadConfig(beam_runner=...)/beam_options`, an Apache Beam pipeline
(DirectRunner locally, Dataflow/Flink/Spark for the full dataset).

`manual_dir` may be on any filesystem TensorFlow knows (`gs://bucket/kinetics`): the annotations and the clip
index are read through tf.io.gfile, and clips on such a filesystem are decoded from a gfile file object.
Decoding runs in worker processes, which open the files themselves: real `gs://` works there, an in-process
filesystem (`ram://`) does not (build from it with num_workers=1 and no Beam).
"""
import collections
import csv
import io
import os
import re
from typing import Dict, List, Tuple

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from dvd_gan.data import clip_builder
from dvd_gan.data import clips as clips_lib  # noqa: F401 - the decoder module, for callers
from dvd_gan.data.clip_builder import (DECODED_BYTES, DEFAULT_CLIP_TIMEOUT_S, MAX_DEPTH,  # noqa: F401 - API
                                       decoded_bytes, decoded_size, list_files, skip_counts)
from dvd_gan.data.kinetics600_clips import BAD_ANNOTATION, UNKNOWN_LABEL, process_clip
from eval import io as eio

NAME = "kinetics600"
RESOLUTIONS = (64, 128, 256)
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv")
BEAM_NAMESPACE = "kinetics600"

# "<youtube_id>_<start>_<end>.<ext>"; YouTube ids themselves may contain "_" and "-".
_FILENAME_RE = re.compile(r"^(?P<youtube_id>.+)_(?P<start>\d+)_(?P<end>\d+)\.(?:mp4|webm|mkv)$", re.IGNORECASE)
_SPLIT_NAMES = {"train": "train", "training": "train", "validate": "validation", "validation": "validation",
                "val": "validation", "valid": "validation", "test": "test", "testing": "test"}
_REQUIRED_FIELDS = ("youtube_id", "time_start", "time_end")

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Kinetics-600 cannot be downloaded automatically (the clips are YouTube videos). Put in `manual_dir`:
  1. the official annotation CSVs (https://github.com/cvdfoundation/kinetics-dataset or the DeepMind
     release): train.csv, validate.csv (and test.csv) with the columns
     label,youtube_id,time_start,time_end,split  (any *.csv below manual_dir with a youtube_id column is read);
  2. the clips, cut to [time_start, time_end], as .mp4, .webm or .mkv files named
     <youtube_id>_<time_start:06d>_<time_end:06d>.<ext> (zero padding optional), in any of these layouts:
       <manual_dir>/<split>/<label>/<name>   (ActivityNet/kinetics-downloader, cvdfoundation layout)
       <manual_dir>/<split>/<name>
       <manual_dir>/<name>                   (flat)
     or any other nesting up to 6 folders deep: every file below manual_dir is indexed by its name.
  manual_dir may be a gs:// folder.
Clips that are missing, unreadable or shorter than the config's min_frames are skipped and counted.
Decoding uses PyAV (bundled FFmpeg); no ffmpeg binary is needed.
"""


class Kinetics600Config(tfds.core.BuilderConfig):
  """Stored resolution: frames resized so their shorter side is `size` (aspect kept)."""

  def __init__(self, *, size: int, min_frames: int = 16, jpeg_quality: int = 90, **kwargs):
    super().__init__(**kwargs)
    self.size = size
    self.min_frames = min_frames
    self.jpeg_quality = jpeg_quality


def config_name(size: int) -> str:
  return str(size)


def read_annotations(manual_dir: str) -> Dict[str, List[Dict[str, object]]]:
  """Rows of every annotation CSV under `manual_dir`, grouped by TFDS split name.

  Each row: {"label": str or None, "youtube_id": str, "time_start": int, "time_end": int}. A row with a
  blank (or unparsable) youtube_id, time_start or time_end is kept as {"key": "<csv name>:<line>",
  "error": what is wrong, ...} and counted as BAD_ANNOTATION by the build.
  """
  rows = collections.defaultdict(list)
  seen = set()
  csv_paths = [p for p in list_files(manual_dir) if p.lower().endswith(".csv")]
  for path in sorted(csv_paths):
    with io.StringIO(eio.read_text(path), newline="") as f:
      reader = csv.DictReader(f)
      if not reader.fieldnames or "youtube_id" not in reader.fieldnames:
        continue
      file_split = os.path.splitext(eio.basename(path))[0].lower()
      for row in reader:
        split = _SPLIT_NAMES.get((row.get("split") or file_split).strip().lower())
        if split is None:
          raise ValueError(f"{path}: unknown split {row.get('split')!r} (expected train/validate/test)")
        label = (row.get("label") or "").strip() or None
        clip, error = _clip_fields(row)
        if error:
          rows[split].append({"key": f"{eio.basename(path)}:{reader.line_num}", "error": error, "label": label,
                              "youtube_id": "", "time_start": None, "time_end": None})
          continue
        if (split,) + clip in seen:
          continue
        seen.add((split,) + clip)
        rows[split].append({"label": label, "youtube_id": clip[0], "time_start": clip[1], "time_end": clip[2]})
  if not rows:
    raise FileNotFoundError(f"no annotation CSV with a youtube_id column found under {manual_dir}")
  return dict(rows)


def _clip_fields(row):
  """((youtube_id, time_start, time_end), None), or (None, what is wrong) for a blank or bad field."""
  blank = [k for k in _REQUIRED_FIELDS if not (row.get(k) or "").strip()]
  if blank:
    return None, "blank " + ", ".join(blank)
  try:
    return (row["youtube_id"].strip(), int(float(row["time_start"])), int(float(row["time_end"]))), None
  except (ValueError, OverflowError):
    return None, f"time_start {row['time_start']!r} / time_end {row['time_end']!r} are not numbers"


def class_names(annotations: Dict[str, List[Dict[str, object]]]) -> List[str]:
  """Sorted class names of the training annotations (all splits if there is no train split)."""
  splits = ["train"] if "train" in annotations else list(annotations)
  names = sorted({r["label"] for s in splits for r in annotations[s] if r["label"]})
  if not names:
    raise ValueError("the annotation CSVs hold no labels")
  return names


def index_clip_files(manual_dir: str) -> Dict[Tuple[str, int, int], str]:
  """(youtube_id, time_start, time_end) -> path of every video file named <id>_<start>_<end>.<ext>."""
  index = {}
  for path in list_files(manual_dir):  # shallower files first: they win a duplicate name
    match = _FILENAME_RE.match(eio.basename(path))
    if match:
      key = (match["youtube_id"], int(match["start"]), int(match["end"]))
      index.setdefault(key, path)
  return index


def clip_key(youtube_id: str, start: int, end: int) -> str:
  return f"{youtube_id}_{start:06d}_{end:06d}"


class Kinetics600(clip_builder.ClipBuilder):
  """Kinetics-600 clips (manual download), frames stored as JPEG at a fixed shorter side."""

  NAMESPACE = BEAM_NAMESPACE
  EXTRA_STATUSES = (UNKNOWN_LABEL, BAD_ANNOTATION)
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release: JPEG frames at full frame rate, skip counts in metadata."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS
  BUILDER_CONFIGS = [
      Kinetics600Config(name=config_name(s), size=s,
                        description=f"Shorter side {s} pixels, all frames, JPEG.") for s in RESOLUTIONS
  ]

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "video": tfds.features.Video(shape=(None, None, None, 3), encoding_format="jpeg"),
            "label": tfds.features.ClassLabel(),  # names set from the annotations in _split_generators
            "youtube_id": tfds.features.Text(),
            "time_start": np.int32,
            "time_end": np.int32,
            "fps": np.float32,
        }),
        supervised_keys=("video", "label"),
        homepage="https://github.com/cvdfoundation/kinetics-dataset",
        metadata=tfds.core.MetadataDict(),
    )

  def _split_generators(self, dl_manager):
    manual_dir = os.fspath(dl_manager.manual_dir)
    annotations = read_annotations(manual_dir)
    names = class_names(annotations)
    self.info.features["label"].names = names
    files = index_clip_files(manual_dir)
    label_index = {n: i for i, n in enumerate(names)}
    logging.info("kinetics600: %d classes, %d clip files indexed under %s", len(names), len(files), manual_dir)
    self.info.metadata["skipped"] = {}
    self.info.metadata["skipped_clips"] = {}
    self.info.metadata[DECODED_BYTES] = {}
    generators = {}
    for split, rows in sorted(annotations.items()):
      items = []
      for r in rows:
        if r.get("error"):
          items.append({"key": r["key"], "error": r["error"], "path": None, "label": r["label"],
                        "label_index": None})
          continue
        key = clip_key(r["youtube_id"], r["time_start"], r["time_end"])
        items.append({"key": key, "path": files.get((r["youtube_id"], r["time_start"], r["time_end"])),
                      "label": r["label"], "label_index": label_index.get(r["label"]),
                      "youtube_id": r["youtube_id"], "time_start": r["time_start"], "time_end": r["time_end"]})
      generators[split] = self._generate_examples(items=items, split=split)
    return generators

  def _process_fn(self):
    return process_clip

  def _process_kwargs(self):
    cfg = self.builder_config
    return dict(size=cfg.size, min_frames=cfg.min_frames, jpeg_quality=cfg.jpeg_quality,
                load_clip=self._load_clip)
