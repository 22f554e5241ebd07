"""The result of a metric: the figure, its uncertainty, and how many videos it used."""
import dataclasses


@dataclasses.dataclass
class MetricResult:
  """`value` is the headline figure; `std` the standard deviation over `draws` (None when not computed).

  `draw_mean` is the mean over the draws (IS and KVD report it as their value), `draw_kind` says what a
  draw is ("10 splits", "bootstrap", ...). A metric with several figures (precision, recall, density,
  coverage) gives them in `components` ({name: value}, printed and logged each under its name). `rows` are
  lines printed before the summary (one per class); `details` is extra JSON (the classes, the fitted points
  of an extrapolation); `note` replaces the "no +-" remark of the summary line.
  """
  value: float
  num_real: int | None = None
  num_fake: int | None = None
  std: float | None = None
  draw_mean: float | None = None
  draws: list = dataclasses.field(default_factory=list)
  draw_kind: str | None = None
  components: dict = dataclasses.field(default_factory=dict)
  rows: list = dataclasses.field(default_factory=list)
  details: dict = dataclasses.field(default_factory=dict)
  note: str | None = None

  def figures(self, label: str) -> dict:
    """{name: value} of the last lines: the components, else {label: value}."""
    return dict(self.components) if self.components else {label: self.value}

  def to_dict(self) -> dict:
    out = {"value": self.value, "std": self.std, "draw_mean": self.draw_mean, "num_draws": len(self.draws),
           "draw_kind": self.draw_kind, "draws": list(self.draws), "num_real": self.num_real,
           "num_fake": self.num_fake}
    if self.components:
      out["components"] = dict(self.components)
    if self.details:
      out["details"] = self.details
    return out

  def summary(self, label: str, no_std: str = "no +- : the fake set's features are not stored") -> str:
    """The line printed before a figure: `<label> mean +- std over <draws>: m +- s (<counts> videos)`;
    without draws, `<label> (<counts> videos; <no_std>)`."""
    counts = ", ".join(f"{n} {role}" for role, n in (("real", self.num_real), ("fake", self.num_fake))
                       if n is not None)
    if self.std is None:
      return f"{label} ({counts} videos; {self.note or no_std})"
    return f"{label} mean +- std over {self.draw_kind}: {self.draw_mean:.4f} +- {self.std:.4f} ({counts} videos)"
