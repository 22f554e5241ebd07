"""Scoring under a protocol: the fake set's features at the protocol's layers, then each of its metrics.

    from eval import scoring
    result = scoring.score("fvd_k400", fake_videos, real=real_stats, network=net)
    result.values()   # {"fvd_k400/fvd": 123.4}
    result.lines()    # ["FVD mean +- std over bootstrap: ... (256 real, 256 fake videos)", ...]

The metrics are computed by `eval.metrics` (`spec.compute(real, fake, **protocol.metric_options(m))`), the
same code as `python -m eval fvd|fid|is ...` with the protocol's settings given as flags, so a figure made
under a protocol equals the one the individual commands give with those flags.
"""
import dataclasses

from eval import api
from eval.errors import EvalError
from eval.features import extract_layers, iter_named_videos
from eval.metrics import MetricResult, get_metric
from eval.protocols import Protocol, get_protocol
from eval.stats import FeatureStats


@dataclasses.dataclass
class ProtocolResult:
  """The figures of one protocol: `results[metric]` (eval.metrics.MetricResult) and the sets' metadata."""
  protocol: Protocol
  results: dict
  real: dict | None = None
  fake: dict | None = None

  def values(self) -> dict:
    """{"<protocol>/<figure>": value} (IS: the mean over splits; prdc: precision, recall, density, coverage)."""
    return {self.protocol.key(name): float(v) for m, r in self.results.items()
            for name, v in _figures(m, r).items()}

  def stds(self) -> dict:
    return {self.protocol.key(name): (r.std if name == m else None) for m, r in self.results.items()
            for name in _figures(m, r)}

  def lines(self) -> list:
    """The per-class rows, then one "mean +- std" line per metric, as the metric commands print them."""
    return [line for m, r in self.results.items() for line in
            [*r.rows, r.summary(f"{self.protocol.key(m)} ({get_metric(m).label})", "the protocol has no repeats")]]

  def to_dict(self) -> dict:
    return {"protocol": self.protocol.describe(), "values": self.values(),
            "results": {m: r.to_dict() for m, r in self.results.items()}, "real": self.real, "fake": self.fake}


def _figures(metric: str, result: MetricResult) -> dict:
  """{figure name: value} of one metric's result (components under the spec's prefixed names)."""
  spec = get_metric(metric)
  if spec.components and result.components:
    return {spec.figure_prefix + name: v for name, v in result.components.items()}
  return {metric: result.value}


def cut_frames(videos, frames: int | None):
  """Yields the videos of `videos` (arrays or iterables, see eval.features) cut to their first `frames`
  frames (all of them when None)."""
  for name, video in iter_named_videos(videos, "fake"):
    if frames is not None:
      if video.shape[0] < frames:
        raise EvalError(f"{name} has {video.shape[0]} frames; the protocol needs {frames}")
      video = video[:frames]
    yield name, video


def take(videos, n: int, what: str = "fake videos"):
  """Yields the first `n` items of `videos` ((name, video) pairs); an EvalError when there are fewer."""
  count = 0
  for item in videos:
    if count == n:
      return
    yield item
    count += 1
  if count < n:
    raise EvalError(f"the protocol scores {n} {what}; only {count} were given")


def fake_features(protocol, videos, network, *, batch_size: int = 8, progress: bool = False,
                  metadata: dict | None = None, labels=None, should_stop=None) -> dict:
  """{layer: FeatureStats} of the first `protocol.num_fake` videos of `videos`, at the protocol's layers,
  cut to `protocol.frames` (with the per-video features when the protocol needs them). `labels`: the class
  of each video (at least num_fake, e.g. the classes a generator was asked for), attached to the features.
  `should_stop`: see eval.interrupt."""
  protocol = get_protocol(protocol)
  meta = {"protocol": protocol.name, "truncation": protocol.truncation, **(metadata or {})}
  stats = extract_layers(take(cut_frames(videos, protocol.frames), protocol.num_fake), network, protocol.layers,
                         batch_size=batch_size, store_features=protocol.needs_features, metadata=meta,
                         progress=progress, total=protocol.num_fake, name="fake",
                         should_stop=should_stop)
  if labels is not None:
    for s in stats.values():
      if s.has_features:
        s.set_labels(list(labels)[:s.num_items])
  return stats


def score_features(protocol, fake: dict, real: FeatureStats | None = None) -> ProtocolResult:
  """The protocol's metrics of the fake features `fake` ({layer: FeatureStats}) against `real` (the real
  statistics at `protocol.real_layer`; None when no metric needs them)."""
  protocol = get_protocol(protocol)
  if isinstance(fake, FeatureStats):
    fake = {fake.metadata.get("layer"): fake}
  if protocol.needs_real and real is None:
    raise EvalError(f"protocol {protocol.name} needs real statistics ({protocol.real_layer} layer)")
  for name, stats in (("real", real), *((f"fake {layer}", s) for layer, s in fake.items())):
    network = None if stats is None else stats.metadata.get("network")
    if network is not None and network != protocol.network:
      raise EvalError(f"protocol {protocol.name} uses {protocol.network}; the {name} statistics "
                      f"({stats.metadata.get('source', 'given')}) were made with {network}")
  results = {}
  for metric in protocol.metrics:
    spec = get_metric(metric)
    layer = protocol.layer_of(metric)
    if layer not in fake:
      raise EvalError(f"protocol {protocol.name}: {spec.label} needs the fake set's {layer} features")
    fake_stats = fake[layer]
    spec.check(fake_stats.metadata.get("network"), fake_stats.metadata.get("layer"))
    real_stats = real if spec.two_sets else None
    if real_stats is not None:
      spec.check(real_stats.metadata.get("network"), real_stats.metadata.get("layer"))
    results[metric] = spec.compute(real_stats, fake_stats, **protocol.metric_options(metric))
  any_fake = next(iter(fake.values()))
  return ProtocolResult(protocol, results, real=None if real is None else dict(real.metadata),
                        fake=dict(any_fake.metadata))


def score(protocol, fake, *, real=None, network=None, weights: str | None = None, batch_size: int = 8,
          progress: bool = False) -> ProtocolResult:
  """Scores `fake` under `protocol` (a name or a Protocol).

  Args:
    fake: videos (uint8 [N, T, H, W, 3] arrays or iterables, see eval.features) or {layer: FeatureStats}.
    real: the real statistics (FeatureStats at the protocol's real layer, e.g. from eval.real_stats), or real
      videos (their first `protocol.num_real` are used, all when None); None if the protocol needs none.
    network: a FeatureNetwork, or None to build the protocol's with `weights`.
  """
  protocol = get_protocol(protocol)
  net = None
  if not isinstance(fake, dict) or (real is not None and not isinstance(real, FeatureStats)):
    net = api.get_feature_network(network if network is not None else protocol.network, weights)
  if not isinstance(fake, dict):
    fake = fake_features(protocol, fake, net, batch_size=batch_size, progress=progress)
  if real is not None and not isinstance(real, FeatureStats):
    videos = cut_frames(real, protocol.frames)
    if protocol.num_real is not None:
      videos = take(videos, protocol.num_real, "real videos")
    real = extract_layers(videos, net, (protocol.real_layer,), batch_size=batch_size, progress=progress,
                          store_features=protocol.needs_real_features, name="real")[protocol.real_layer]
  return score_features(protocol, fake, real if protocol.needs_real else None)


__all__ = ["ProtocolResult", "MetricResult", "fake_features", "score", "score_features", "cut_frames", "take"]
