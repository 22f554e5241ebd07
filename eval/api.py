"""Library entry points: score arrays of videos without the command line.

    import eval
    fvd = eval.compute_fvd(real_videos, fake_videos)          # uint8 [N, T, H, W, 3] each
    result = eval.compute_metric("fvd", real_stats, fake_videos)  # value, std over draws, counts

`real` / `fake` may be arrays [N, T, H, W, 3] (uint8, or float in [0, 255]), iterables of such batches or of
single videos [T, H, W, 3], or precomputed `FeatureStats` (e.g. the real statistics of a dataset, loaded with
`FeatureStats.load`). `network` is a name of `eval.networks.NETWORK_NAMES` or an already built
FeatureNetwork (pass one to avoid reloading the weights at every call, e.g. in a training loop).
"""
from eval.errors import EvalError
from eval.features import extract_features
from eval.metrics import MetricResult, get_metric
from eval.stats import FeatureStats


def get_feature_network(network="i3d-kinetics-400", weights: str | None = None):
  """A FeatureNetwork: `network` itself if it is one, else `eval.networks.get_network(network, weights)`."""
  if not isinstance(network, str):
    return network
  try:
    from eval.networks import get_network  # noqa: PLC0415 - imports TensorFlow, which `import eval` never does
  except ImportError as e:
    raise EvalError(f"the feature networks are unavailable (eval.networks: {e})") from None
  return get_network(network, weights)


def compute_stats(videos, *, network="i3d-kinetics-400", weights: str | None = None, layer: str = "logits",
                  batch_size: int = 8, store_features: bool = False, progress: bool = False,
                  metadata: dict | None = None, should_stop=None) -> FeatureStats:
  """Streaming statistics (and optionally the features) of `videos` at `layer` of `network`.

  should_stop: `() -> bool` checked between batches (eval.interrupt: True raises Interrupted)."""
  if isinstance(videos, FeatureStats):
    return videos
  net = get_feature_network(network, weights)
  return extract_features(videos, net, layer, batch_size=batch_size, store_features=store_features,
                          progress=progress, metadata=metadata, should_stop=should_stop)


def compute_metric(name: str, real, fake, *, network=None, weights: str | None = None, layer: str | None = None,
                   batch_size: int = 8, progress: bool = False, **options) -> MetricResult:
  """The metric `name` (fvd, fid, is, kvd) of `fake` against `real` (`real` is ignored by `is`).

  options: draws, subset_size, seed (fvd/fid); splits (is); num_subsets, subset_size, seed (kvd).
  """
  spec = get_metric(name)
  network = spec.network if network is None else network
  layer = spec.layer if layer is None else layer
  spec.check(network if isinstance(network, str) else network.name, layer)
  inputs = (real, fake) if spec.two_sets else (fake,)
  net = None if all(isinstance(v, FeatureStats) for v in inputs) else get_feature_network(network, weights)
  sets = []
  for role, videos in (("real", real), ("fake", fake)):
    if role == "real" and not spec.two_sets:
      sets.append(None)
      continue
    if not isinstance(videos, FeatureStats):
      videos = extract_features(videos, net, layer, batch_size=batch_size, store_features=True,
                                progress=progress, name=role)
      videos.metadata["source"] = f"the {role} videos"
    spec.check(videos.metadata.get("network"), videos.metadata.get("layer"))
    sets.append(videos)
  return spec.compute(sets[0], sets[1], **options)


def compute_fvd(real, fake, *, network="i3d-kinetics-400", weights: str | None = None, batch_size: int = 8,
                **options) -> float:
  """FVD (Unterthiner et al. 2018) of `fake` against `real`: Kinetics-400 I3D logits, Fréchet distance."""
  return compute_metric("fvd", real, fake, network=network, weights=weights, batch_size=batch_size,
                        **options).value


def compute_fid(real, fake, *, network="i3d-kinetics-400", weights: str | None = None, batch_size: int = 8,
                layer: str = "avgpool", **options) -> float:
  """FID on I3D `avgpool` features (DVD-GAN uses the Kinetics-600 I3D: network="i3d-kinetics-600")."""
  return compute_metric("fid", real, fake, network=network, weights=weights, batch_size=batch_size, layer=layer,
                        **options).value


def compute_is(videos, *, network="i3d-kinetics-400", weights: str | None = None, batch_size: int = 8,
               splits: int = 10) -> float:
  """Inception Score (mean over `splits` splits) of `videos` from the network's logits.

  DVD-GAN: Kinetics-600 I3D for Kinetics, C3D ("c3d-ucf101") for UCF-101. compute_metric gives the std too.
  """
  return compute_metric("is", None, videos, network=network, weights=weights, batch_size=batch_size,
                        splits=splits).value


def compute_kvd(real, fake, *, network="i3d-kinetics-400", weights: str | None = None, batch_size: int = 8,
                **options) -> float:
  """Kernel video distance (polynomial-kernel MMD^2, mean over random subsets) on I3D logits."""
  return compute_metric("kvd", real, fake, network=network, weights=weights, batch_size=batch_size,
                        **options).value
