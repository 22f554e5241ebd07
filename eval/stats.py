"""Streaming feature statistics of a set of videos, and the `.npz` statistics file that holds them.

`FeatureStats` accumulates, batch by batch, the count N, the sum of the features and the sum of their outer
products, all in float64; the mean and the unbiased covariance follow from those sums, so statistics of
shards computed on different hosts merge exactly (`merge`) into the statistics of the whole set. The features
themselves ([N, D] float32) are kept only when asked (`store_features=True`): the Inception Score and the
kernel distance need them, the Fréchet distance only needs mean and covariance.

A statistics file (`save` / `load`, read through eval.npz: no pickles, every member CRC-checked) holds:
  __eval_stats__  int, format version of the file
  num_items       int64, N
  sum             float64 [D], sum of the features
  sum_outer       float64 [D, D], sum of x x^T
  mu, sigma       float64 [D], [D, D]: mean and unbiased covariance (for readers of the file; absent if N < 2)
  features        float32 [N, D], only when stored
  labels          str [N], the class label of each video, only when known (with the features)
  metadata_json   str, a JSON object: network, weights_sha256, layer, resolution, frames, stride, num_videos,
                  dataset, split, version (see METADATA_KEYS)
"""
import json
import sys

import numpy as np

from eval import io as eio
from eval import npz
from eval.errors import EvalError, one_line

FORMAT_VERSION = 1
MARKER_KEY = "__eval_stats__"
METADATA_KEYS = ("network", "weights_sha256", "layer", "resolution", "frames", "stride", "num_videos",
                 "dataset", "split", "version")
# Statistics that disagree on one of these are not comparable: comparing them is an error.
MUST_MATCH = ("network", "layer", "frames")


class FeatureStats:
  """Count, sum and sum of outer products (float64) of feature vectors, optionally the features themselves.

  Usage: `stats = FeatureStats(); stats.append(features_batch)  # [B, D]`, then `stats.mean`, `stats.cov`.
  `metadata` is a dict (keys of METADATA_KEYS) describing how the features were made; it travels with the
  statistics into the file and is checked by `check_comparable`.
  """

  def __init__(self, *, store_features: bool = False, metadata: dict | None = None):
    self.store_features = store_features
    self.metadata = dict(metadata or {})
    self.num_items = 0
    self.dim = None
    self._sum = None
    self._sum_outer = None
    self._features = []  # list of [B, D] float32 chunks
    self.labels = None   # str [N] class labels (per-class scores), when known

  def set_labels(self, labels) -> None:
    """Attaches the class label of every video so far (strings; ints become their str), in order."""
    labels = np.asarray([str(v) for v in labels])
    if labels.shape != (self.num_items,):
      raise EvalError(f"{labels.shape[0]} class labels for {self.num_items} videos")
    self.labels = labels

  def append(self, features) -> None:
    """Adds a batch of feature vectors `[B, D]` (any float dtype; accumulated in float64)."""
    x = np.asarray(features)
    if x.ndim != 2:
      raise EvalError(f"features must be [B, D], got shape {x.shape}")
    if self.dim is None:
      self.dim = x.shape[1]
      self._sum = np.zeros([self.dim], np.float64)
      self._sum_outer = np.zeros([self.dim, self.dim], np.float64)
    elif x.shape[1] != self.dim:
      raise EvalError(f"features of dimension {x.shape[1]} appended to statistics of dimension {self.dim}")
    if not np.all(np.isfinite(x)):
      raise EvalError("the network produced non-finite features (NaN or inf)")
    x64 = x.astype(np.float64)
    self.num_items += x.shape[0]
    self._sum += x64.sum(axis=0)
    self._sum_outer += x64.T @ x64
    if self.store_features:
      self._features.append(x.astype(np.float32))

  def merge(self, other: "FeatureStats") -> "FeatureStats":
    """Adds the statistics of another shard (same network, layer, frames) to these, in place; returns self.

    Features are kept only if both shards kept them. `num_videos` of the metadata becomes the sum.
    """
    check_comparable(self, other, what="shards")
    if other.num_items == 0:
      return self
    if self.dim is None:
      self.dim = other.dim
      self._sum = np.zeros([self.dim], np.float64)
      self._sum_outer = np.zeros([self.dim, self.dim], np.float64)
    elif other.dim != self.dim:
      raise EvalError(f"cannot merge statistics of dimension {other.dim} into dimension {self.dim}")
    keep = other.store_features and (self.store_features or self.num_items == 0)
    self.num_items += other.num_items
    self._sum += other._sum
    self._sum_outer += other._sum_outer
    self.store_features = keep
    both = self.labels is not None and other.labels is not None
    self.labels = np.concatenate([self.labels, other.labels]) if keep and both else None
    self._features = self._features + other._features if keep else []
    for key, value in other.metadata.items():
      self.metadata.setdefault(key, value)
    self.metadata["num_videos"] = self.num_items
    return self

  @property
  def has_features(self) -> bool:
    return self.store_features and self.num_items > 0

  @property
  def mean(self) -> np.ndarray:
    """Mean feature, float64 [D]."""
    self._require(1)
    return self._sum / self.num_items

  @property
  def cov(self) -> np.ndarray:
    """Unbiased covariance, float64 [D, D]: (sum x x^T - N mu mu^T) / (N - 1)."""
    self._require(2)
    mu = self.mean
    cov = (self._sum_outer - self.num_items * np.outer(mu, mu)) / (self.num_items - 1)
    return (cov + cov.T) / 2  # exact symmetry despite rounding

  @property
  def features(self) -> np.ndarray:
    """All features, float32 [N, D]; an EvalError if they were not stored."""
    if not self.store_features:
      raise EvalError(
          f"the statistics of {self.metadata.get('source', 'this set')} hold no per-video features "
          "(needed by IS, KVD, PRDC, the generated set of FVD_inf and per-class scores); recompute them with "
          "`python -m eval features` or `stats --store_features`")
    self._require(1)
    if len(self._features) > 1:
      self._features = [np.concatenate(self._features, axis=0)]
    return self._features[0]

  def _require(self, n: int) -> None:
    if self.num_items < n:
      what = "a covariance" if n >= 2 else "a mean"
      raise EvalError(f"{self.metadata.get('source', 'the set')} has {self.num_items} videos; "
                      f"at least {n} are needed for {what}")

  def save(self, path: str) -> None:
    """Writes the statistics to `path` (.npz, any filesystem) through a temporary file renamed at the end.

    A local `path` needs an existing folder (EvalError otherwise); object stores have no folders to create.
    """
    self._require(1)
    arrays = {
        MARKER_KEY: np.array(FORMAT_VERSION),
        "num_items": np.array(self.num_items, np.int64),
        "sum": self._sum,
        "sum_outer": self._sum_outer,
        "metadata_json": np.array(json.dumps(_jsonable(self.metadata), sort_keys=True)),
    }
    if self.num_items >= 2:
      arrays["mu"] = self.mean
      arrays["sigma"] = self.cov
    if self.store_features:
      arrays["features"] = self.features
      if self.labels is not None:
        arrays["labels"] = np.asarray(self.labels, str)
    try:
      eio.write_npz(path, arrays, make_parents=eio.has_scheme(path))
    except FileNotFoundError:
      raise EvalError(f"output directory does not exist: {eio.dirname(path)}") from None

  @classmethod
  def load(cls, path: str) -> "FeatureStats":
    """Reads a statistics file written by `save`; an EvalError if it is not one."""
    data = npz.load(path, "statistics file")
    if MARKER_KEY not in data:
      raise EvalError(f"{path} is not a statistics file of this package (no '{MARKER_KEY}' entry)")
    try:
      version = int(data[MARKER_KEY])
      if version > FORMAT_VERSION:
        raise EvalError(f"{path} has statistics format {version}; this package reads up to {FORMAT_VERSION}")
      metadata = json.loads(str(data["metadata_json"]))
      stats = cls(store_features="features" in data, metadata=metadata)
      stats.num_items = int(data["num_items"])
      stats._sum = np.array(data["sum"], np.float64)
      stats._sum_outer = np.array(data["sum_outer"], np.float64)
      stats.dim = stats._sum.shape[0]
      if stats.store_features:
        stats._features = [np.array(data["features"], np.float32)]
        if "labels" in data:
          stats.labels = np.array(data["labels"]).astype(str)
    except EvalError:
      raise
    except (ValueError, TypeError, KeyError, IndexError) as e:
      raise EvalError(f"cannot read statistics file {path}: {one_line(e)}") from None
    stats.metadata.setdefault("source", path)
    return stats


def is_stats_file(path: str) -> bool:
  """True if `path` is an .npz file holding statistics (rather than video arrays); an EvalError naming the
  file if it is an .npz that cannot be read (truncated, not a zip archive), which is no set of videos either."""
  if not (str(path).endswith(".npz") and eio.isfile(path)):
    return False
  return MARKER_KEY in npz.member_names(path, ".npz file")


def check_comparable(a: FeatureStats, b: FeatureStats, what: str = "statistics") -> None:
  """An EvalError if `a` and `b` disagree on network, layer or frames; a warning if on the weights."""
  diffs = []
  for key in MUST_MATCH:
    va, vb = a.metadata.get(key), b.metadata.get(key)
    if va is not None and vb is not None and va != vb:
      diffs.append(f"{key} {va!r} vs {vb!r}")
  if diffs:
    names = f"{a.metadata.get('source', 'first')} and {b.metadata.get('source', 'second')}"
    raise EvalError(f"the {what} of {names} are not comparable: " + ", ".join(diffs))
  wa, wb = a.metadata.get("weights_sha256"), b.metadata.get("weights_sha256")
  if wa and wb and wa != wb:
    print(f"warning: the {what} were computed with different weight files (sha256 {wa[:12]}... vs "
          f"{wb[:12]}...); fine if both hold the same network, otherwise the figure is meaningless",
          file=sys.stderr)


def _jsonable(value):
  if isinstance(value, dict):
    return {str(k): _jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_jsonable(v) for v in value]
  if isinstance(value, np.generic):
    return value.item()
  return value


