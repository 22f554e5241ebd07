"""The metrics, one file each, and their registry (as NVlabs stylegan2-ada-pytorch's `metrics/`).

A `MetricSpec` says which network and layer a metric is defined on, whether it compares two sets or scores
one, and whether it needs the per-video features (IS, KVD) or only mean and covariance (FVD, FID).
`get_metric(name)` returns the spec; `spec.compute(real, fake, **options)` gives a `MetricResult`.

Metrics: fvd, fid (Fréchet distance), is, kvd, prdc (precision, recall, density, coverage), the per-class
intra_fvd, intra_fid, intra_prdc (sets with class labels), and fvd_inf, fid_inf (extrapolated to N = inf).
"""
import dataclasses
from typing import Callable

import numpy as np

from eval.errors import EvalError
from eval.metrics.frechet import frechet_distance, frechet_metric
from eval.metrics.inception_score import inception_score, inception_score_metric
from eval.metrics.kvd import kernel_distance, kernel_distance_metric, mmd2_unbiased
from eval.metrics.extrapolation import frechet_inf, frechet_inf_metric
from eval.metrics.per_class import per_class_metric
from eval.metrics.prdc import DEFAULT_K, prdc_metric
from eval.metrics.prdc import NAMES as PRDC_NAMES
from eval.metrics.prdc import prdc as prdc_figures
from eval.metrics.result import MetricResult


@dataclasses.dataclass(frozen=True)
class MetricSpec:
  """name: CLI command; label: printed before the figure; network/layer: defaults; fixed_network/
  fixed_layer: the metric is only defined on those (FVD: Kinetics-400 I3D logits); two_sets: compares
  real and fake; needs_features: needs the per-video features, not just mean/cov; needs_real_features: the same
  for the real set, when it differs (None: as needs_features; FVD_inf needs the real mean/cov only)."""
  name: str
  label: str
  network: str
  layer: str
  two_sets: bool
  needs_features: bool
  compute: Callable[..., MetricResult]
  fixed_network: bool = False
  fixed_layer: bool = False
  needs_labels: bool = False
  components: tuple = ()
  figure_prefix: str = ""
  needs_real_features: bool | None = None

  def features_needed(self, role: str) -> bool:
    """Whether the set `role` ("real" | "fake") must carry per-video features."""
    if role == "real" and self.needs_real_features is not None:
      return self.needs_real_features
    return self.needs_features

  def figure_names(self) -> tuple:
    """Names of the figures this metric logs under a protocol (`<protocol>/<name>`): its components
    (prefixed, e.g. intra_precision), else its own name."""
    return tuple(self.figure_prefix + c for c in self.components) or (self.name,)

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


def _prdc(real, fake, *, k=DEFAULT_K, **_):
  return prdc_metric(real, fake, k=k)


def _frechet_of_rows(real_rows, fake_rows) -> float:
  return frechet_distance(real_rows.mean(axis=0), np.cov(real_rows.astype(np.float64), rowvar=False),
                          fake_rows.mean(axis=0), np.cov(fake_rows.astype(np.float64), rowvar=False))


def _intra_frechet(label):
  def compute(real, fake, **_):
    dim = real.dim
    return per_class_metric(real, fake, _frechet_of_rows, label=label, min_videos=2, rough_below=dim,
                            rough_note=f"fewer videos than the {dim} feature dimensions, biased upwards")
  return compute


def _intra_prdc(real, fake, *, k=DEFAULT_K, **_):
  return per_class_metric(real, fake, lambda r, f: prdc_figures(r, f, k=k), label="prdc", min_videos=k + 1,
                          rough_below=100, rough_note=f"k-NN balls (k = {k}) of fewer than 100 videos")


def _frechet_inf(real, fake, *, num_points=15, min_size=None, draws=1, seed=0, **_):
  return frechet_inf_metric(real, fake, num_points=num_points, min_size=min_size, draws=draws, seed=seed)


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

register_metric(MetricSpec("prdc", "PRDC", "i3d-kinetics-400", "avgpool", two_sets=True, needs_features=True,
                           compute=_prdc, components=PRDC_NAMES))
register_metric(MetricSpec("intra_fvd", "intra-FVD", "i3d-kinetics-400", "logits", two_sets=True,
                           needs_features=True, compute=_intra_frechet("FVD"), fixed_network=True,
                           fixed_layer=True, needs_labels=True))
register_metric(MetricSpec("intra_fid", "intra-FID", "i3d-kinetics-400", "avgpool", two_sets=True,
                           needs_features=True, compute=_intra_frechet("FID"), needs_labels=True))
register_metric(MetricSpec("intra_prdc", "intra-PRDC", "i3d-kinetics-400", "avgpool", two_sets=True,
                           needs_features=True, compute=_intra_prdc, needs_labels=True, components=PRDC_NAMES,
                           figure_prefix="intra_"))
register_metric(MetricSpec("fvd_inf", "FVD_inf", "i3d-kinetics-400", "logits", two_sets=True, needs_features=True,
                           compute=_frechet_inf, fixed_network=True, fixed_layer=True, needs_real_features=False))
register_metric(MetricSpec("fid_inf", "FID_inf", "i3d-kinetics-400", "avgpool", two_sets=True,
                           needs_features=True, compute=_frechet_inf, needs_real_features=False))

# Per-class variants of the commands' --per_class flag.
PER_CLASS = {"fvd": "intra_fvd", "fid": "intra_fid", "prdc": "intra_prdc"}
# Figures that improve upwards (everything else: lower is better).
HIGHER_IS_BETTER = ("is", "precision", "recall", "density", "coverage")


def higher_is_better(figure: str) -> bool:
  """Whether the figure `figure` (a metric or component name, e.g. recall, intra_precision) improves upwards."""
  return figure.removeprefix("intra_") in HIGHER_IS_BETTER

METRIC_NAMES = tuple(_REGISTRY)


def get_metric(name: str) -> MetricSpec:
  if name not in _REGISTRY:
    raise EvalError(f"unknown metric {name!r}; known: {', '.join(_REGISTRY)}")
  return _REGISTRY[name]


__all__ = ["MetricSpec", "MetricResult", "METRIC_NAMES", "PER_CLASS", "HIGHER_IS_BETTER", "get_metric",
           "register_metric", "frechet_distance", "frechet_inf", "inception_score", "kernel_distance",
           "mmd2_unbiased", "prdc_figures"]
