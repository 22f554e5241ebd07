"""Per-class scores: a metric computed within each class present in both sets, and their mean (intra-FVD).

A class-conditional generator can reach a good overall FVD while ignoring its class input (every class's
samples drawn from the mixture of all classes): the overall distributions match, the per-class ones do not.
The intra-FVD, the mean over classes of the FVD between the real and fake videos of that class, catches it.

Rules: a class is scored only if both sets hold at least `min_videos` of its videos (2 for a covariance,
k + 1 for k nearest neighbours); every other class is named in `skipped` with its counts, never dropped
silently. A row from fewer videos than `rough_below` (the feature dimension for a Fréchet distance: the
covariance is rank-deficient and the figure biased upwards) is marked rough. Labels are strings (class
subfolder names, or str(int) of a class index).
"""
import numpy as np

from eval.errors import EvalError
from eval.metrics.result import MetricResult
from eval.stats import FeatureStats, check_comparable


def group_rows(labels) -> dict:
  """{label: row indices} of a label array [N], in sorted label order."""
  labels = np.asarray(labels).astype(str)
  return {c: np.flatnonzero(labels == c) for c in sorted(set(labels.tolist()))}


def per_class(real, real_labels, fake, fake_labels, score, *, min_videos: int = 2, rough_below: int = 0) -> dict:
  """`score(real_rows [n, D], fake_rows [m, D]) -> float or {name: float}` within each class.

  Returns {"classes": [{"class", "num_real", "num_fake", "value" (float or dict), "rough"}],
           "skipped": [{"class", "num_real", "num_fake"}], "mean": float or {name: mean}} (mean over
  the scored classes; None when there are none).
  """
  real, fake = np.asarray(real), np.asarray(fake)
  if len(real_labels) != real.shape[0] or len(fake_labels) != fake.shape[0]:
    raise EvalError(f"{len(real_labels)} / {len(fake_labels)} labels for {real.shape[0]} / {fake.shape[0]} "
                    "videos")
  real_groups, fake_groups = group_rows(real_labels), group_rows(fake_labels)
  classes, skipped = [], []
  for c in sorted(set(real_groups) | set(fake_groups)):
    nr, nf = len(real_groups.get(c, ())), len(fake_groups.get(c, ()))
    if min(nr, nf) < min_videos:
      skipped.append({"class": c, "num_real": nr, "num_fake": nf})
      continue
    value = score(real[real_groups[c]], fake[fake_groups[c]])
    classes.append({"class": c, "num_real": nr, "num_fake": nf, "value": value, "rough": min(nr, nf) < rough_below})
  mean = None
  if classes and isinstance(classes[0]["value"], dict):
    mean = {k: float(np.mean([row["value"][k] for row in classes])) for k in classes[0]["value"]}
  elif classes:
    mean = float(np.mean([row["value"] for row in classes]))
  return {"classes": classes, "skipped": skipped, "mean": mean}


def format_rows(out: dict, label: str, min_videos: int, rough_note: str) -> list:
  """One line per scored class, then one per skipped class (with its counts and why)."""
  lines = []
  for row in out["classes"]:
    value = row["value"]
    text = (" ".join(f"{k} {v:.4f}" for k, v in value.items()) if isinstance(value, dict)
            else f"{label} {value:.4f}")
    lines.append(f"class {row['class']}: {text} ({row['num_real']} real, {row['num_fake']} fake videos)"
                 + (f" rough: {rough_note}" if row["rough"] else ""))
  for row in out["skipped"]:
    lines.append(f"class {row['class']} left out: {row['num_real']} real, {row['num_fake']} fake videos "
                 f"(at least {min_videos} in each set are needed)")
  return lines


def per_class_metric(real: FeatureStats, fake: FeatureStats, score, *, label: str, min_videos: int = 2,
                     rough_below: int = 0, rough_note: str = "") -> MetricResult:
  """`per_class` on the stored features and labels of two sets, as a MetricResult (value: the mean over
  classes; components: the means of a several-figure score; rows: the per-class lines)."""
  check_comparable(real, fake)
  for stats in (real, fake):
    if stats.labels is None:
      raise EvalError(f"per-class scores need class labels; {stats.metadata.get('source', 'a set')} has none "
                      "(videos in class subfolders, or a features file made from them)")
  out = per_class(real.features, real.labels, fake.features, fake.labels, score, min_videos=min_videos,
                  rough_below=rough_below)
  if out["mean"] is None:
    raise EvalError(f"no class has at least {min_videos} videos in both sets: "
                    + "; ".join(f"{r['class']} ({r['num_real']} real, {r['num_fake']} fake)" for r in out["skipped"]))
  components = out["mean"] if isinstance(out["mean"], dict) else {}
  value = next(iter(components.values())) if components else out["mean"]
  scored = len(out["classes"])
  return MetricResult(value=value, num_real=real.num_items, num_fake=fake.num_items, components=components,
                      rows=format_rows(out, label, min_videos, rough_note), details=out,
                      note=f"mean over {scored} class{'es' if scored != 1 else ''} in both sets, "
                           f"{len(out['skipped'])} left out")
