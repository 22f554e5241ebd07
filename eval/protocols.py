"""Named evaluation protocols (as StyleGAN2-ADA's `metric_main`): a protocol fixes everything a figure depends on.

A `Protocol` names the feature network (and so the layer of each metric, from `eval.metrics`), the number of
frames, the frame stride of the real videos, how the resolution is handled, the numbers of real and fake
videos, the repeats behind the +-, the truncation of the generator's latents and the real statistics it
compares with (dataset and split). Two figures made under the same protocol name are comparable; two made
under different names are not.

    python -m eval protocols                                      # list them
    python -m eval score --protocol=fvd_k400 --fake=DIR --real=STATS.npz

The built-in protocols reproduce the paper's tables (docs/eval.md, "Protocols"). Other packages register
their own with `register_protocol` (dvd_gan registers its synthetic demo's): the registry is the only one,
so the command line, training-time evaluation and `dvd_gan.evaluate` all read protocols from here.

Numbers the paper does not state (how many fake videos, how many repeats) are our choice, said in the
protocol's `notes`.
"""
import dataclasses

from eval.errors import EvalError
from eval.metrics import get_metric, higher_is_better

# How each network brings a video to its input size (the protocol's "resolution handling").
RESOLUTION_HANDLING = {
    "i3d-kinetics-400": "every frame resized to 224x224 (TF1 bilinear), scaled to [-1, 1]",
    "i3d-kinetics-600": "every frame resized to 224x224 (TF1 bilinear), scaled to [-1, 1]",
    "c3d-ucf101": "every frame resized to 128x128 (cubic), BGR minus the mean clip, centre crop 112x112",
}


@dataclasses.dataclass(frozen=True)
class Protocol:
  """One way of scoring videos, fixed by name.

  Attributes:
    name: registry key; metric figures are reported as `<name>/<metric>`.
    description: one line.
    network: feature network name (eval.networks.NETWORK_NAMES).
    metrics: names of eval.metrics (fvd, fid, is, kvd, prdc, intra_fvd, fvd_inf, ...); each runs on its
      metric's layer (FID, PRDC: avgpool; FVD, IS, KVD: logits) unless `metric_layers` says otherwise. The
      metrics that compare with real videos must share one layer (one real statistics file per protocol).
    frames: frames T per video (None: the videos' own length, e.g. the run's num_frames).
    stride: frame stride of the real videos (None: the dataset's, e.g. the run's data.stride).
    num_real: real videos in the statistics (None: the whole split).
    num_fake: fake videos scored.
    repeats: bootstrap resamplings of the fake features behind the +- of FVD / FID (0: none).
    splits: splits of the Inception Score (its +-).
    truncation: sigma of the generator's z (1.0: no truncation); recorded when scoring files.
    dataset, split: the real statistics the protocol compares with (dataset None: any).
    main_metric: the metric that decides "better" (best checkpoint, collapse); default the first.
    reference: where the protocol comes from (paper / table).
    notes: our choices where the reference is silent.
    metric_layers: ((metric, layer), ...) for metrics run on another layer than their default (e.g.
      (("prdc", "logits"),) to share FVD's real statistics).
  """
  name: str
  description: str
  network: str
  metrics: tuple
  num_fake: int
  frames: int | None = None
  stride: int | None = None
  num_real: int | None = None
  repeats: int = 10
  splits: int = 10
  truncation: float = 1.0
  dataset: str | None = None
  split: str = "train"
  main_metric: str | None = None
  reference: str = ""
  notes: str = ""
  metric_layers: tuple = ()

  def layer_of(self, metric: str) -> str:
    """The layer `metric` runs on: `metric_layers` ((metric, layer) pairs) when it names it, else the
    metric's default (eval.metrics)."""
    return dict(self.metric_layers).get(metric, get_metric(metric).layer)

  def __post_init__(self):
    if not self.metrics:
      raise ValueError(f"protocol {self.name}: no metrics")
    for metric in self.metrics:
      get_metric(metric).check(self.network, self.layer_of(metric))
    for metric, _ in self.metric_layers:
      if metric not in self.metrics:
        raise ValueError(f"protocol {self.name}: metric_layers names {metric!r}, not one of {self.metrics}")
    if len(self.real_layers) > 1:
      raise ValueError(f"protocol {self.name}: metrics against real videos use several layers "
                       f"{self.real_layers}; split it into one protocol per layer")
    if self.main_metric is not None and self.main_metric not in self.figures:
      raise ValueError(f"protocol {self.name}: main_metric {self.main_metric!r} is not one of {self.figures}")
    if self.num_fake < 2 or (self.num_real is not None and self.num_real < 2):
      raise ValueError(f"protocol {self.name}: at least 2 real and 2 fake videos are needed")

  @property
  def layers(self) -> tuple:
    """Feature layers of the fake videos (union over the metrics, in order)."""
    return tuple(dict.fromkeys(self.layer_of(m) for m in self.metrics))

  @property
  def real_layers(self) -> tuple:
    """Layers the real statistics are needed at (metrics comparing two sets)."""
    return tuple(dict.fromkeys(self.layer_of(m) for m in self.metrics if get_metric(m).two_sets))

  @property
  def real_layer(self) -> str | None:
    """The one layer of the real statistics (None: no metric needs real videos)."""
    return self.real_layers[0] if self.real_layers else None

  @property
  def needs_real(self) -> bool:
    return self.real_layer is not None

  @property
  def needs_features(self) -> bool:
    """Whether the fake set's per-video features are needed (IS, KVD, the +- of FVD / FID)."""
    return any(get_metric(m).needs_features for m in self.metrics) or self.repeats > 1

  @property
  def needs_real_features(self) -> bool:
    """Whether the real set's per-video features are needed (PRDC, KVD, per-class scores)."""
    return any(get_metric(m).two_sets and get_metric(m).features_needed("real") for m in self.metrics)

  @property
  def needs_labels(self) -> bool:
    """Whether both sets need class labels (per-class scores)."""
    return any(get_metric(m).needs_labels for m in self.metrics)

  @property
  def figures(self) -> tuple:
    """Names of every figure the protocol reports (`<protocol>/<figure>`): prdc gives precision, recall,
    density, coverage."""
    return tuple(f for m in self.metrics for f in get_metric(m).figure_names())

  @property
  def main(self) -> str:
    """The figure deciding "better", e.g. "fvd" (default: the first figure)."""
    return self.main_metric or self.figures[0]

  def key(self, metric: str) -> str:
    """`<protocol>/<metric>`, the name of a figure in logs, metrics.jsonl and TensorBoard."""
    return f"{self.name}/{metric}"

  def higher_is_better(self, metric: str) -> bool:
    """`metric`: a metric or figure name (is, recall, intra_precision: higher is better; FVD, ...: lower)."""
    return higher_is_better(metric)

  def metric_options(self, metric: str) -> dict:
    """The options of `eval.metrics` spec.compute for `metric` (the CLI flags they correspond to)."""
    if metric in ("fvd", "fid"):
      return {"draws": self.repeats, "subset_size": None, "seed": 0}
    if metric in ("fvd_inf", "fid_inf"):
      return {"draws": max(1, self.repeats), "seed": 0}
    if metric == "is":
      return {"splits": self.splits}
    return {"seed": 0}

  @property
  def resolution_handling(self) -> str:
    return RESOLUTION_HANDLING.get(self.network, "the network's own preprocessing")

  def describe(self) -> dict:
    """Every setting, for listings and JSON records."""
    out = dataclasses.asdict(self)
    out["metrics"] = list(self.metrics)
    out["layers"] = {m: self.layer_of(m) for m in self.metrics}
    out["metric_layers"] = [list(pair) for pair in self.metric_layers]
    out["resolution_handling"] = self.resolution_handling
    out["main_metric"] = self.main
    return out


_REGISTRY: dict = {}


def register_protocol(protocol: Protocol, *, replace: bool = False) -> Protocol:
  """Adds `protocol` to the registry; registering a name twice is an error unless `replace`, or unless
  the protocol is equal to the one registered (a module imported twice)."""
  old = _REGISTRY.get(protocol.name)
  if old is not None and old != protocol and not replace:
    raise ValueError(f"protocol {protocol.name!r} is already registered with other settings")
  _REGISTRY[protocol.name] = protocol
  return protocol


def get_protocol(name) -> Protocol:
  """The registered protocol `name` (a Protocol passes through); EvalError naming the known ones."""
  if isinstance(name, Protocol):
    return name
  if name not in _REGISTRY:
    raise EvalError(f"unknown protocol {name!r}; known: {', '.join(protocol_names())}")
  return _REGISTRY[name]


def protocol_names() -> tuple:
  return tuple(sorted(_REGISTRY))


def format_protocol(p: Protocol) -> str:
  """A few lines describing `p` (the listing of `python -m eval protocols`)."""
  layers = ", ".join(f"{m.upper()} on {p.layer_of(m)}" for m in p.metrics)
  real = ("no real videos" if not p.needs_real else
          f"real: {p.num_real if p.num_real else 'all'} videos of {p.dataset or 'the dataset'}:{p.split}")
  spread = []
  if any(m in ("fvd", "fid") for m in p.metrics):
    spread.append(f"{p.repeats} bootstrap repeats (FVD/FID)" if p.repeats > 1 else "no repeats (FVD/FID)")
  if "is" in p.metrics:
    spread.append(f"{p.splits} splits (IS)")
  lines = [
      f"{p.name}: {p.description}",
      f"    network {p.network}: {layers}; {p.resolution_handling}",
      f"    frames: {p.frames or 'as the videos'}; stride: {p.stride or 'as the dataset'}; "
      f"fake: {p.num_fake} videos, truncation {p.truncation}; {real}",
      f"    +-: {', '.join(spread) or 'none'}; main metric {p.main}",
  ]
  if p.reference:
    lines.append(f"    reference: {p.reference}")
  if p.notes:
    lines.append(f"    notes: {p.notes}")
  return "\n".join(lines)


# ---- the paper's protocols ------------------------------------------------------------------------------

register_protocol(Protocol(
    name="k600_fid_is",
    description="Kinetics-600 I3D: FID on avgpool features against the whole train set, IS from its logits",
    network="i3d-kinetics-600", metrics=("fid", "is"), num_fake=50_000, num_real=None, repeats=10, splits=10,
    truncation=1.0, dataset="kinetics600", split="train", main_metric="fid",
    reference="DVD-GAN section 2.5 / Table 1 (FID, IS without truncation)",
    notes="the paper does not state the number of samples: 50,000 as BigGAN; frames = the run's T (figures "
          "compare only between videos of the same length)"))

register_protocol(Protocol(
    name="k600_is_truncated",
    description="Kinetics-600 I3D IS of samples with truncated latents (sigma 0.44)",
    network="i3d-kinetics-600", metrics=("is",), num_fake=50_000, repeats=0, splits=10, truncation=0.44,
    dataset="kinetics600", split="train",
    reference="DVD-GAN Table 1, 'IS, truncated' column (sigma = 0.44)",
    notes="sample count as k600_fid_is"))

register_protocol(Protocol(
    name="ucf101_is_c3d",
    description="UCF-101 Inception Score with TGAN's C3D (16 frames)",
    network="c3d-ucf101", metrics=("is",), num_fake=10_000, frames=16, repeats=0, splits=10,
    dataset="ucf101", split="train",
    reference="DVD-GAN Table 2; TGAN (Saito et al.) C3D protocol",
    notes="10,000 samples, mean +- std over 10 splits, as TGAN's evaluation"))

register_protocol(Protocol(
    name="fvd_k400",
    description="FVD (Unterthiner et al.): Kinetics-400 I3D logits, 16 frames without frame skipping",
    network="i3d-kinetics-400", metrics=("fvd",), num_fake=256, num_real=256, frames=16, stride=1,
    repeats=10, dataset=None, split="test",
    reference="DVD-GAN Tables 3 and 4 (DVD-GAN-FP, frame-conditional prediction)",
    notes="256 real and 256 fake videos with 10 bootstrap repeats for the +- (the paper gives neither); "
          "the split (train or test, Table 3) is chosen when scoring; prediction videos are scored whole "
          "(conditioning + predicted frames)"))

register_protocol(Protocol(
    name="prdc_k400",
    description="precision, recall, density, coverage on Kinetics-400 I3D avgpool features, k = 5",
    network="i3d-kinetics-400", metrics=("prdc",), num_fake=10_000, num_real=10_000, repeats=0,
    dataset=None, split="train",
    reference="Kynkäänniemi et al. 2019 (precision, recall); Naeem et al. 2020 (density, coverage, k = 5, "
              "10,000 real and fake samples)",
    notes="not in the DVD-GAN paper; the pooled I3D features stand for the image papers' Inception/VGG ones"))

PAPER_PROTOCOLS = ("k600_fid_is", "k600_is_truncated", "ucf101_is_c3d", "fvd_k400")
