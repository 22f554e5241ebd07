"""Real statistics, computed once per dataset, split and protocol, then reused; refused when they do not match.

    stats = real_stats.load_or_compute(stats_dir, protocol, network, dataset="kinetics600", split="train",
                                       frames=12, stride=2, resolution=64, videos_fn=lambda: iter_of_videos)

The file is `<stats_dir>/<dataset>-<split>-<protocol>-<layer>-<T>f-<resolution>px.npz` (any filesystem:
local or `gs://`), an ordinary statistics file (eval.stats) whose metadata records how it was made. A later
call with the same name loads it instead of running the network again; if its metadata disagrees with what
the call needs (network, weights, layer, frames, stride, number of videos, dataset, split, protocol,
resolution), it is refused with an EvalError naming the difference, rather than silently compared against.
"""
import re

from eval import io
from eval.errors import EvalError
from eval.features import extract_layers
from eval.protocols import get_protocol
from eval.scoring import cut_frames, take
from eval.stats import FeatureStats

# Metadata a cached file must match. `num_requested` is the protocol's num_real ("all": the whole split).
MATCH_KEYS = ("protocol", "network", "weights_sha256", "layer", "dataset", "split", "frames", "stride",
              "resolution", "num_requested")


def _slug(value) -> str:
  return re.sub(r"[^A-Za-z0-9_.]+", "_", str(value)).strip("_") or "none"


def stats_path(stats_dir: str, protocol, dataset: str, split: str, frames: int, resolution) -> str:
  """Where the real statistics of (dataset, split, protocol, frames, resolution) live in `stats_dir`."""
  p = get_protocol(protocol)
  res = resolution if not isinstance(resolution, (list, tuple)) else "x".join(str(r) for r in resolution)
  name = "-".join(_slug(x) for x in (dataset, split, p.name, p.real_layer, f"{frames}f", f"{res}px"))
  return io.join(stats_dir, name + ".npz")


def expected_metadata(protocol, network, *, dataset: str, split: str, frames: int, stride: int,
                      resolution) -> dict:
  """The metadata the real statistics of this evaluation must carry (see MATCH_KEYS)."""
  p = get_protocol(protocol)
  res = [int(resolution), int(resolution)] if isinstance(resolution, int) else [int(r) for r in resolution]
  return {"protocol": p.name, "network": network.name, "weights_sha256": getattr(network, "weights_sha256", None),
          "layer": p.real_layer, "dataset": dataset, "split": split, "frames": int(frames), "stride": int(stride),
          "resolution": res, "num_requested": "all" if p.num_real is None else int(p.num_real)}


def mismatches(metadata: dict, expected: dict) -> list:
  """["key: file has X, this evaluation needs Y", ...] for every MATCH_KEYS entry that differs."""
  return [f"{k}: the file has {metadata.get(k)!r}, this evaluation needs {expected[k]!r}"
          for k in MATCH_KEYS if k in expected and metadata.get(k) != expected[k]]


def load(path: str) -> FeatureStats:
  """A statistics file from any filesystem."""
  stats = FeatureStats.load(path)
  stats.metadata["source"] = path
  return stats


def save(stats: FeatureStats, path: str) -> None:
  """Writes `stats` to `path` (any filesystem; its folder is created) under a temporary name renamed at the
  end."""
  meta = dict(stats.metadata)
  stats.metadata.pop("source", None)
  try:
    io.makedirs(io.dirname(path))
    stats.save(path)
  finally:
    stats.metadata.update(meta)


def load_or_compute(stats_dir: str, protocol, network, *, dataset: str, split: str, frames: int, stride: int,
                    resolution, videos_fn, batch_size: int = 8, progress: bool = False, log=None,
                    labels: list | None = None, should_stop=None) -> FeatureStats:
  """The real statistics for this protocol: loaded from `stats_dir` when there, else computed and saved.

  Args:
    stats_dir: folder of the cached statistics (created when needed; local or gs://).
    protocol: name or Protocol; its `real_layer` is the layer, its `num_real` the number of videos
      (None: every video `videos_fn` yields).
    network: the FeatureNetwork of the protocol.
    dataset, split, frames, stride, resolution: what the real videos are; recorded and checked.
    videos_fn: `() -> videos` (anything eval.features accepts), called only when the statistics are computed.
    log: optional `str -> None` for one line saying what happened.
    labels: for protocols with per-class scores, a list that the iterator of `videos_fn()` fills with the
      class of each video it yields, in order (read once the videos are consumed).
    should_stop: `() -> bool` checked between batches; True raises eval.interrupt.Interrupted and nothing
      is saved (the file is written only once every video is in).
  Raises:
    EvalError: the cached file exists but was made differently (the differences are named).
  """
  p = get_protocol(protocol)
  if not p.needs_real:
    raise EvalError(f"protocol {p.name} needs no real statistics")
  path = stats_path(stats_dir, p, dataset, split, frames, resolution)
  expected = expected_metadata(p, network, dataset=dataset, split=split, frames=frames, stride=stride,
                               resolution=resolution)
  if io.exists(path):
    stats = load(path)
    diffs = mismatches(stats.metadata, expected)
    if p.needs_real_features and not stats.has_features:
      diffs.append("the file holds no per-video features, which this protocol's metrics need")
    if p.needs_labels and stats.labels is None:
      diffs.append("the file holds no class labels, which this protocol's per-class scores need")
    if diffs:
      raise EvalError(f"refusing the real statistics {path}: " + "; ".join(diffs) +
                      " (delete the file or use another statistics folder)")
    if log:
      log(f"real statistics of {stats.num_items} videos ({dataset}:{split}, {p.name}) loaded from {path}")
    return stats
  videos = cut_frames(videos_fn(), frames)
  if p.num_real is not None:
    videos = take(videos, p.num_real, f"real videos of {dataset}:{split}")
  stats = extract_layers(videos, network, (p.real_layer,), batch_size=batch_size, progress=progress,
                         total=p.num_real, name=f"{dataset}:{split}", metadata=dict(expected),
                         store_features=p.needs_real_features, should_stop=should_stop)[p.real_layer]
  if p.needs_labels:
    if labels is None or len(labels) < stats.num_items:
      raise EvalError(f"protocol {p.name} scores per class: the real videos of {dataset}:{split} need labels")
    stats.set_labels(labels[:stats.num_items])
  diffs = mismatches(stats.metadata, expected)
  if diffs:  # the videos were not what the caller said (e.g. another resolution)
    raise EvalError(f"the real videos of {dataset}:{split} do not match the evaluation: " + "; ".join(diffs))
  io.makedirs(stats_dir)
  save(stats, path)
  if log:
    log(f"real statistics of {stats.num_items} videos ({dataset}:{split}, {p.name}) computed and saved to {path}")
  stats.metadata["source"] = path
  return stats
