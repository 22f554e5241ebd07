"""The metrics, one file each, and their registry (as NVlabs stylegan2-ada-pytorch's `metrics/`).

A `MetricSpec` says which network and layer a metric is defined on, whether it compares two sets or scores
one, and whether it needs the per-video features (IS, KVD) or only mean and covariance (FVD, FID).
`get_metric(name)` returns the spec; `spec.compute(real, fake, **options)` gives a `MetricResult`.
"""
import dataclasses
from typing import Callable

from eval.errors import EvalError
from eval.metrics.frechet import frechet_distance, frechet_metric
from eval.metrics.inception_score import inception_score, inception_score_metric
from eval.metrics.kvd import kernel_distance, kernel_distance_metric, mmd2_unbiased
from eval.metrics.result import MetricResult


@dataclasses.dataclass(frozen=True)
class MetricSpec:
  """name: CLI command; label: printed before the figure; network/layer: defaults; fixed_network/
  fixed_layer: the metric is only defined on those (FVD: Kinetics-400 I3D logits); two_sets: compares
  real and fake; needs_features: needs the per-video features, not just mean/cov."""
  name: str
  label: str
  network: str
  layer: str
  two_sets: bool
  needs_features: bool
  compute: Callable[..., MetricResult]
  fixed_network: bool = False
  fixed_layer: bool = False

  def check(self, network: str | None, layer: str | None) -> None:
    """An EvalError if the metric is not defined on this network / layer."""
    if self.fixed_network and network is not None and network != self.network:
      raise EvalError(f"{self.label} is defined on {self.network} features, got {network} "
                      f"(use fid for other networks)")
    if self.fixed_layer and layer is not None and layer != self.layer:
      raise EvalError(f"{self.label} is defined on the '{self.layer}' layer, got '{layer}'")


def _fvd(real, fake, *, draws=10, subset_size=None, seed=0, **_):
  return frechet_metric(real, fake, draws=draws, subset_size=subset_size, seed=seed)


def _is(real, fake, *, splits=10, **_):
  del real
  return inception_score_metric(fake, num_splits=splits)


def _kvd(real, fake, *, num_subsets=100, subset_size=None, seed=0, **_):
  return kernel_distance_metric(real, fake, num_subsets=num_subsets, subset_size=subset_size, seed=seed)


_REGISTRY = {}


def register_metric(spec: MetricSpec) -> MetricSpec:
  if spec.name in _REGISTRY:
    raise ValueError(f"metric {spec.name!r} registered twice")
  _REGISTRY[spec.name] = spec
  return spec


register_metric(MetricSpec("fvd", "FVD", "i3d-kinetics-400", "logits", two_sets=True, needs_features=False,
                           compute=_fvd, fixed_network=True, fixed_layer=True))
register_metric(MetricSpec("fid", "FID", "i3d-kinetics-400", "avgpool", two_sets=True, needs_features=False,
                           compute=_fvd))
register_metric(MetricSpec("is", "IS", "i3d-kinetics-400", "logits", two_sets=False, needs_features=True,
                           compute=_is, fixed_layer=True))
register_metric(MetricSpec("kvd", "KVD", "i3d-kinetics-400", "logits", two_sets=True, needs_features=True,
                           compute=_kvd))

METRIC_NAMES = tuple(_REGISTRY)


def get_metric(name: str) -> MetricSpec:
  if name not in _REGISTRY:
    raise EvalError(f"unknown metric {name!r}; known: {', '.join(_REGISTRY)}")
  return _REGISTRY[name]


__all__ = ["MetricSpec", "MetricResult", "METRIC_NAMES", "get_metric", "register_metric", "frechet_distance",
           "inception_score", "kernel_distance", "mmd2_unbiased"]
