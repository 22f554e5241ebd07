"""Collapse detection: when the main metric keeps getting worse, or D wins by a saturated margin.

The paper reports every model "at the last checkpoint before training collapses" (docs/paper.md,
"Optimisation") without saying how a collapse is recognised. This rule says when it happened, from the
figures of the evaluations during training:

  metric rule   the main metric is worse than the best value so far by more than `threshold` (relative:
                value > best * (1 + threshold) when lower is better, value < best * (1 - threshold) when
                higher is better) at `patience` evaluations in a row;
  margin rule   D's real/fake margin (the mean of D(real) - D(fake) since the previous evaluation, the
                smaller of DS's and DT's) is at least `margin_saturation` at `patience` evaluations in a row
                (0 disables it). With the hinge loss, a margin of 2 already puts the average real and fake
                scores on opposite edges of the hinge; a collapsing run's D pushes it far beyond.

It fires once, at the evaluation that completes the streak, and then stays quiet. Its state is a function of
the evaluations fed to it, so a resumed run rebuilds it by replaying `metrics.jsonl`.
"""
import dataclasses
import math


@dataclasses.dataclass
class CollapseRule:
  """Feed it evaluations with `update`; it returns a reason string at the one evaluation where it fires."""
  higher_is_better: bool = False
  threshold: float = 0.25
  patience: int = 3
  margin_saturation: float = 0.0
  best: float | None = None
  worse_streak: int = 0
  saturated_streak: int = 0
  fired_at: int | None = None

  def __post_init__(self):
    if self.threshold < 0 or self.patience < 1:
      raise ValueError(f"collapse rule: threshold must be >= 0 and patience >= 1, got {self.threshold}, "
                       f"{self.patience}")

  def is_worse(self, value: float) -> bool:
    """Whether `value` is past the threshold relative to the best value so far."""
    if self.best is None:
      return False
    if not math.isfinite(value):
      return True
    if self.higher_is_better:
      return value < self.best - self.threshold * abs(self.best)
    return value > self.best + self.threshold * abs(self.best)

  def update(self, step: int, value: float | None, margin: float | None = None) -> str | None:
    """Takes the evaluation at `step` (main metric `value`, D margin `margin`; either may be None) and
    returns why training collapsed if the rule fires now, else None."""
    reasons = []
    if value is not None:
      worse = self.is_worse(value)
      self.worse_streak = self.worse_streak + 1 if worse else 0
      if math.isfinite(value) and (self.best is None or (value > self.best if self.higher_is_better
                                                         else value < self.best)):
        self.best = value
      if self.worse_streak >= self.patience:
        reasons.append(f"main metric worse than its best {self.best:.4g} by more than {self.threshold:.0%} "
                       f"for {self.worse_streak} evaluations in a row")
    if self.margin_saturation > 0 and margin is not None:
      self.saturated_streak = self.saturated_streak + 1 if margin >= self.margin_saturation else 0
      if self.saturated_streak >= self.patience:
        reasons.append(f"D's real/fake margin >= {self.margin_saturation:g} for {self.saturated_streak} "
                       "evaluations in a row")
    if reasons and self.fired_at is None:
      self.fired_at = int(step)
      return "; ".join(reasons)
    return None


def rule_from_config(collapse_config, higher_is_better: bool) -> CollapseRule | None:
  """The rule of `config.eval.collapse` (None when disabled)."""
  if not collapse_config.get("enabled", True):
    return None
  action = collapse_config.get("action", "stop")
  if action not in ("stop", "continue"):
    raise ValueError(f"eval.collapse.action must be 'stop' or 'continue', got {action!r}")
  return CollapseRule(higher_is_better=higher_is_better, threshold=float(collapse_config.threshold),
                      patience=int(collapse_config.patience),
                      margin_saturation=float(collapse_config.get("margin_saturation", 0.0)))


class MarginMeter:
  """Mean of D's real/fake margin over the steps since the last `take()`: min(DS margin, DT margin) of the
  batch means that the training step reports (ds_real, ds_fake, dt_real, dt_fake)."""

  def __init__(self):
    self.total, self.count = 0.0, 0

  def observe(self, metrics: dict) -> None:
    keys = ("ds_real", "ds_fake", "dt_real", "dt_fake")
    if all(k in metrics for k in keys):
      margin = min(metrics["ds_real"] - metrics["ds_fake"], metrics["dt_real"] - metrics["dt_fake"])
      if math.isfinite(margin):
        self.total += float(margin)
        self.count += 1

  def take(self) -> float | None:
    value = self.total / self.count if self.count else None
    self.total, self.count = 0.0, 0
    return value
