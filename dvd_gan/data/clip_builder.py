"""What every clip-file TFDS builder of dvd_gan shares (dvd_gan.data.kinetics600, dvd_gan.data.video_folder).

`ClipBuilder`: a GeneratorBasedBuilder whose examples come from decoding one video per item with a
module-level `process_fn(item, **kwargs) -> (key, status, example or None, error)` (a worker imports no
TensorFlow), either in a local process pool (dvd_gan/data/worker_pool.py: a crashed or hung decoder costs
its clip) or, with `use_beam=True`, in an Apache Beam pipeline. Skipped items are counted by status and
stored in `info.metadata["skipped"][split]` (the first MAX_LISTED_SKIPS ids in `["skipped_clips"]`);
`["decoded_bytes"][split]` holds sum(T * H * W * 3) of the split's stored frames, which the input pipeline
uses to decide whether the decoded clips fit in its in-memory cache.

Also the folder listing both builders use (`list_files`) and the metadata readers (`decoded_size`,
`skip_counts`).
"""
import collections
import functools
import io
import os
from typing import Dict, Iterator, List, Optional, Tuple

from absl import logging
import tensorflow_datasets as tfds
from PIL import Image

from dvd_gan.data import clips as clips_lib
from dvd_gan.data import worker_pool
from eval import io as eio

MAX_LISTED_SKIPS = 10000  # at most this many skipped clip ids per split in the metadata
MAX_DEPTH = 6  # files are found up to this many folder levels below the root
DEFAULT_CLIP_TIMEOUT_S = 300.0  # a 10 s clip decodes in seconds; minutes mean a hung decoder
DECODED_BYTES = "decoded_bytes"


def list_files(root: str, max_depth: int = MAX_DEPTH) -> List[str]:
  """Paths of everything up to `max_depth` folder levels below `root` (folders included: callers filter by
  name), on any filesystem; level by level, sorted within a level.

  One glob per level (`root/*`, `root/*/*`, ...): on GCS each is one listing of the objects under the
  prefix, where a folder walk would ask for every one of 500k clips whether it is a folder.
  """
  paths = []
  for depth in range(1, max_depth + 1):
    paths += eio.glob(eio.join(root, *(["*"] * depth)))
  return paths


def decoded_bytes(example: Dict[str, object]) -> int:
  """uint8 bytes of the decoded frames of one example (T * H * W * 3), from the JPEG headers."""
  frames = example["video"]
  if not frames:
    return 0
  width, height = Image.open(io.BytesIO(frames[0])).size
  return len(frames) * height * width * 3


def decoded_size(builder: tfds.core.DatasetBuilder, split: str) -> Optional[int]:
  """uint8 bytes of the decoded frames of `split` ("train", "validation", "test"), None if not recorded."""
  sizes = builder.info.metadata.get(DECODED_BYTES, {}) if builder.info.metadata else {}
  return int(sizes[split]) if split in sizes else None


def skip_counts(builder: tfds.core.DatasetBuilder) -> Dict[str, Dict[str, int]]:
  """{split: {status: n}} of a prepared builder (statuses: clips.SKIP_STATUSES and the builder's own)."""
  return dict(builder.info.metadata.get("skipped", {})) if builder.info.metadata else {}


def _beam_process(item, *, split, namespace, process_fn, **kwargs):
  """Beam FlatMap body: yields (key, example) and counts skips (and decoded bytes) in Beam counters."""
  import apache_beam as beam  # noqa: PLC0415 - optional dependency (the beam extra)
  key, status, example, error = process_fn(item, **kwargs)
  beam.metrics.Metrics.counter(namespace, f"{split}/{status}").inc()
  if example is None:
    logging.warning("%s %s: skipped %s (%s): %s", namespace, split, key, status, error)
    return
  beam.metrics.Metrics.counter(namespace, f"{split}/{DECODED_BYTES}").inc(decoded_bytes(example))
  yield key, example


class ClipBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Base of the clip builders (module docstring). Subclasses set NAMESPACE (log and Beam counter prefix),
  EXTRA_STATUSES (their own skip statuses), and implement `_process_fn()` and `_process_kwargs()`."""

  NAMESPACE = "clips"
  EXTRA_STATUSES: Tuple[str, ...] = ()

  def __init__(self, *, num_workers: Optional[int] = None, use_beam: bool = False,
               clip_timeout_s: float = DEFAULT_CLIP_TIMEOUT_S, **kwargs):
    """num_workers: local processes decoding clips (None: os.cpu_count(); <= 1: in-process).

    clip_timeout_s: a clip still decoding after this many seconds is skipped as unreadable (worker processes
    only).

    use_beam: make `_generate_examples` return a Beam PTransform (pass beam_runner / beam_options in the
    DownloadConfig); needs apache-beam.
    """
    self._num_workers = os.cpu_count() if num_workers is None else num_workers
    self._use_beam = use_beam
    self._clip_timeout_s = float(clip_timeout_s)
    self._load_clip = clips_lib.load_clip  # the decoder each worker runs
    super().__init__(**kwargs)

  def download_and_prepare(self, *args, **kwargs):
    # A spawned decoder worker re-imports the main module: a script that builds at its top level (no main
    # guard) reaches this line inside every worker; the worker ends quietly and the parent says what to add.
    worker_pool.exit_if_reimported_main()
    return super().download_and_prepare(*args, **kwargs)

  def _process_fn(self):
    raise NotImplementedError

  def _process_kwargs(self) -> Dict[str, object]:
    raise NotImplementedError

  def _generate_examples(self, items, split):
    kwargs = self._process_kwargs()
    if self._use_beam:
      beam = tfds.core.lazy_imports.apache_beam
      return (f"Create{split}" >> beam.Create(items)
              | f"Decode{split}" >> beam.FlatMap(functools.partial(
                  _beam_process, split=split, namespace=self.NAMESPACE, process_fn=self._process_fn(),
                  **kwargs)))
    return self._generate_locally(items, split, kwargs)

  def _generate_locally(self, items, split, kwargs) -> Iterator[Tuple[str, Dict[str, object]]]:
    """Decodes clips in a process pool (spawned workers: no forked TF state; a crashed or hung decoder costs
    its clip, dvd_gan.data.worker_pool), yields in item order."""
    fn = functools.partial(self._process_fn(), **kwargs)
    counts = collections.Counter()
    skipped = []
    workers = min(self._num_workers, len(items))
    logging.info("%s %s: decoding %d clips with %d worker process(es)", self.NAMESPACE, split, len(items),
                 max(workers, 1))
    if workers > 1:
      results = worker_pool.imap_ordered(
          fn, items, workers=workers, timeout_s=self._clip_timeout_s,
          on_failure=lambda item, message: (item["key"], clips_lib.UNREADABLE, None, message),
          log=lambda item, message: logging.warning("%s %s: %s: %s", self.NAMESPACE, split, item["key"],
                                                    message))
    else:
      results = map(fn, items)
    try:
      for key, status, example, error in results:
        counts[status] += 1
        if example is None:
          logging.warning("%s %s: skipped %s (%s): %s", self.NAMESPACE, split, key, status, error)
          if len(skipped) < MAX_LISTED_SKIPS:
            skipped.append({"key": key, "reason": status})
          continue
        counts[DECODED_BYTES] += decoded_bytes(example)
        yield key, example
    finally:
      close = getattr(results, "close", None)
      if close is not None:
        close()  # stops the worker processes of an abandoned build
    self._record_counts(split, counts, skipped)

  def _record_counts(self, split: str, counts, skipped=None):
    summary = {s: int(counts.get(s, 0)) for s in (clips_lib.OK,) + clips_lib.SKIP_STATUSES + self.EXTRA_STATUSES}
    self.info.metadata["skipped"][split] = {k: v for k, v in summary.items() if k != clips_lib.OK}
    self.info.metadata[DECODED_BYTES][split] = int(counts.get(DECODED_BYTES, 0))
    if skipped is not None:
      self.info.metadata["skipped_clips"][split] = skipped
    logging.info("%s %s: %d clips written, skipped: %s", self.NAMESPACE, split, summary[clips_lib.OK],
                 self.info.metadata["skipped"][split])

  def _process_pipeline_result(self, pipeline_result) -> None:
    """Beam path: copies the per-split skip counters into the metadata."""
    import apache_beam as beam  # noqa: PLC0415 - optional dependency (the beam extra)
    result = pipeline_result.metrics().query(beam.metrics.MetricsFilter().with_namespace(self.NAMESPACE))
    per_split = collections.defaultdict(collections.Counter)
    for counter in result["counters"]:
      split, status = counter.key.metric.name.split("/", 1)
      per_split[split][status] += counter.committed or counter.attempted or 0
    for split, counts in per_split.items():
      self._record_counts(split, counts)
