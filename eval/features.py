"""Streaming feature extraction: videos -> fixed-size batches -> network features -> `FeatureStats`.

Decoding and batching run in a background thread (a bounded queue of `prefetch` batches) while the main
thread runs the network, so decode overlaps compute. Every batch has exactly `batch_size` videos (the last
one, or one cut short by a change of video size, is padded by repeating its last video and the padding's
features are dropped), so the network's forward is compiled once per input shape, and reused by later calls
with the same network. Progress goes to stderr (tqdm). Statistics accumulate in float64 (see eval.stats).
"""
import queue
import sys
import threading

import numpy as np
from tqdm import tqdm

from eval import __version__
from eval.errors import EvalError
from eval.interrupt import check as check_stop
from eval.stats import FeatureStats
from eval.video_io import check_video

_END = object()
# Attribute of a network object holding {layer: tf.function}: its forward is traced once per input shape
# across calls of extract_features (a training loop evaluating every N steps must not re-trace I3D each
# time); the functions live and die with the network.
FORWARDS_ATTR = "_eval_features_forwards"


def iter_named_videos(source, name: str = "video"):
  """Normalises a source of videos into (name, video [T, H, W, 3]) pairs, each validated.

  `source`: an array [N, T, H, W, 3] or [T, H, W, 3] (numpy or tf), or an iterable whose items are videos
  [T, H, W, 3], batches [B, T, H, W, 3], or (name, video) pairs.
  """
  if hasattr(source, "numpy") and not isinstance(source, np.ndarray):
    source = source.numpy()
  if isinstance(source, np.ndarray):
    if source.ndim == 5:
      for i in range(source.shape[0]):
        yield f"{name}[{i}]", check_video(source[i], f"{name}[{i}]")
    else:
      yield name, check_video(source, name)
    return
  index = 0
  for item in source:
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
      item_name, item = item
    else:
      item_name = None
    if hasattr(item, "numpy") and not isinstance(item, np.ndarray):
      item = item.numpy()
    item = np.asarray(item)
    batch = item if item.ndim == 5 else item[None]
    for video in batch:
      label = item_name or f"{name}[{index}]"
      yield label, check_video(video, label)
      index += 1


def batch_videos(videos, batch_size: int):
  """Groups (name, video) pairs into full batches [batch_size, T, H, W, 3] of one shape and dtype.

  Yields (batch, num_valid): the first num_valid rows are real videos, the rest repeat the last one.
  """
  if batch_size < 1:
    raise EvalError(f"batch_size must be >= 1, got {batch_size}")
  pending = []

  def flush():
    n = len(pending)
    rows = pending + [pending[-1]] * (batch_size - n)
    dtype = np.float32 if any(r.dtype != np.uint8 for r in rows) else np.uint8
    return np.stack([r.astype(dtype, copy=False) for r in rows]), n

  for _, video in videos:
    if pending and (video.shape != pending[0].shape or video.dtype != pending[0].dtype):
      yield flush()
      pending = []
    pending.append(video)
    if len(pending) == batch_size:
      yield flush()
      pending = []
  if pending:
    yield flush()


def _prefetch(iterator, size: int):
  """Runs `iterator` in a daemon thread, `size` items ahead; re-raises its exceptions in the caller."""
  q = queue.Queue(maxsize=max(1, size))
  stop = threading.Event()

  def producer():
    try:
      for item in iterator:
        while not stop.is_set():
          try:
            q.put((True, item), timeout=0.1)
            break
          except queue.Full:
            continue
        if stop.is_set():
          return
      q.put((True, _END))
    except BaseException as e:  # forwarded to the consumer
      q.put((False, e))

  thread = threading.Thread(target=producer, daemon=True)
  thread.start()
  try:
    while True:
      ok, item = q.get()
      if not ok:
        raise item
      if item is _END:
        return
      yield item
  finally:
    stop.set()


def _forward(network, layers: tuple):
  """`{layer: network.features(x, layer)}` for `layers` as ONE tf.function per (network, layers), reused
  across calls. A network with `all_features` (eval.networks) runs its forward once for all layers."""
  import tensorflow as tf  # noqa: PLC0415 - TensorFlow loads when features are computed, not at `import eval`
  per_layers = getattr(network, FORWARDS_ATTR, None)
  if per_layers is None:
    per_layers = {}
    try:
      setattr(network, FORWARDS_ATTR, per_layers)
    except AttributeError:  # an object that takes no attributes: no reuse across calls
      pass
  if layers not in per_layers:
    if len(layers) > 1 and hasattr(network, "all_features"):
      per_layers[layers] = tf.function(lambda x: {k: v for k, v in network.all_features(x).items() if k in layers})
    else:
      per_layers[layers] = tf.function(lambda x: {layer: network.features(x, layer) for layer in layers})
  return per_layers[layers]


def network_metadata(network, layer: str) -> dict:
  """The metadata of features of `network` at `layer` (the rest is filled in by the caller)."""
  return {"network": network.name, "weights_sha256": getattr(network, "weights_sha256", None), "layer": layer,
          "version": __version__}


def check_layer(network, layer: str) -> None:
  if layer not in tuple(network.layers):
    raise EvalError(f"network {network.name} has no layer {layer!r}; its layers: {', '.join(network.layers)}")


def extract_features(videos, network, layer: str, *, batch_size: int = 8, store_features: bool = False,
                     metadata: dict | None = None, progress: bool = True, total: int | None = None,
                     prefetch: int = 2, name: str = "video", should_stop=None) -> FeatureStats:
  """Features of every video of `videos` at `layer` of `network`, accumulated into a `FeatureStats`.

  videos: see `iter_named_videos` (arrays, iterables of videos/batches, or `video_io.iter_videos(...)`).
  network: a FeatureNetwork (eval.networks); its `features(x [B, T, H, W, 3], layer) -> [B, D]` runs inside
  one tf.function (traced once per input shape). All videos must have the same number of frames T, at least
  `network.min_frames` (and exactly `network.frames` when the network fixes it).
  should_stop: `() -> bool` checked before every batch: True raises eval.interrupt.Interrupted.
  """
  return extract_layers(videos, network, (layer,), batch_size=batch_size, store_features=store_features,
                        metadata=metadata, progress=progress, total=total, prefetch=prefetch, name=name,
                        should_stop=should_stop)[layer]


def extract_layers(videos, network, layers, *, batch_size: int = 8, store_features: bool = False,
                   metadata: dict | None = None, progress: bool = True, total: int | None = None,
                   prefetch: int = 2, name: str = "video", should_stop=None) -> dict:
  """`extract_features` at several layers in one pass over the videos: {layer: FeatureStats}."""
  import tensorflow as tf  # noqa: PLC0415 - TensorFlow loads when features are computed, not at `import eval`
  layers = tuple(dict.fromkeys(layers))
  stats = {}
  for layer in layers:
    check_layer(network, layer)
    meta = network_metadata(network, layer)
    meta.update(metadata or {})
    stats[layer] = FeatureStats(store_features=store_features, metadata=meta)
  forward = _forward(network, layers)
  batches = _prefetch(batch_videos(iter_named_videos(videos, name), batch_size), prefetch)
  frames = None
  resolutions = set()
  desc = f"{network.name} {'+'.join(layers)}"
  with tqdm(total=total, unit="video", file=sys.stderr, disable=not progress, desc=desc,
            dynamic_ncols=True) as bar:
    for batch, n in batches:
      check_stop(should_stop, f"features of {name}")  # the producer thread stops with the generator
      t = batch.shape[1]
      if frames is None:
        frames = t
        _check_frames(network, t)
      elif t != frames:
        raise EvalError(f"videos of different lengths ({frames} and {t} frames) in one set; pass frames=T to "
                        "cut them to the same length")
      resolutions.add(tuple(int(s) for s in batch.shape[2:4]))
      feats = forward(tf.convert_to_tensor(batch))
      for layer in layers:
        stats[layer].append(feats[layer].numpy()[:n])
      bar.update(n)
  for layer, s in stats.items():
    if s.num_items == 0:
      raise EvalError(f"no videos in {name}")
    s.metadata["frames"] = frames
    s.metadata.setdefault("stride", 1)
    s.metadata["resolution"] = list(next(iter(resolutions))) if len(resolutions) == 1 else "mixed"
    s.metadata["num_videos"] = s.num_items
  return stats


def _check_frames(network, t: int) -> None:
  min_frames = getattr(network, "min_frames", 1)
  if t < min_frames:
    raise EvalError(f"videos too short for {network.name}: {t} frames, at least {min_frames} needed")
  fixed = getattr(network, "frames", None)
  if fixed is not None and t != fixed:
    raise EvalError(f"{network.name} takes exactly {fixed} frames, got {t}; pass frames={fixed}")
