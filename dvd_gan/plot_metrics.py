"""Plots the evaluations of a run (`<workdir>/metrics.jsonl`) against the training step, as a PNG.

    python -m dvd_gan.plot_metrics --workdir=DIR --out=fvd.png [--metric=demo_fvd/fvd[,OTHER]] [--title=T]

One panel per metric (default: every `<protocol>/<metric>` of the file); the best evaluation (the best
checkpoint's) is starred and a collapse, if the rule fired, is a vertical line. Needs matplotlib:
`pip install dvd-gan[plot]` (or `pip install matplotlib`).
"""
from absl import flags

from eval import command, io
from eval.errors import EvalError

NOT_METRICS = ("step", "seconds", "d_margin", "best", "collapse")


def define_flags(fv, argv):
  del argv
  d = dict(flag_values=fv)
  flags.DEFINE_string("workdir", None, "Training run folder holding metrics.jsonl.", **d)
  flags.DEFINE_string("out", None, "Output PNG file.", **d)
  flags.DEFINE_string("metric", None, "Metric key(s), comma-separated (default: all in the file).", **d)
  flags.DEFINE_string("title", None, "Figure title (default: the workdir).", **d)


def plot(records: list, out: str, metrics=None, title: str = "") -> list:
  """Draws `records` (metrics.jsonl lines) to the PNG `out` (any filesystem); returns the metrics drawn."""
  try:
    import matplotlib  # noqa: PLC0415 - optional dependency (the plot extra)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 - optional dependency (the plot extra)
  except ImportError:
    raise EvalError("plotting needs matplotlib: pip install dvd-gan[plot]") from None
  keys = list(metrics) if metrics else list(dict.fromkeys(k for r in records for k in r if k not in NOT_METRICS))
  if not keys:
    raise EvalError("metrics.jsonl holds no metric to plot")
  missing = [k for k in keys if not any(k in r for r in records)]
  if missing:
    raise EvalError(f"no evaluation holds {', '.join(missing)}")
  fig, axes = plt.subplots(len(keys), 1, figsize=(6.4, 2.6 * len(keys) + 0.6), squeeze=False)
  for ax, key in zip(axes[:, 0], keys):
    points = [(r["step"], r[key]) for r in records if key in r]
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", color="tab:blue")
    best = [(r["step"], r[key]) for r in records if r.get("best") and key in r]
    if best:
      ax.plot([best[-1][0]], [best[-1][1]], marker="*", markersize=14, color="tab:orange", linestyle="none",
              label=f"best (step {best[-1][0]})")
    for r in records:
      if r.get("collapse"):
        ax.axvline(r["step"], color="tab:red", linestyle="--", label=f"collapse (step {r['step']})")
    ax.set_ylabel(key)
    ax.grid(alpha=0.3)
    if best or any(r.get("collapse") for r in records):
      ax.legend(loc="best", fontsize=8)
  axes[-1, 0].set_xlabel("training step")
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  io.write_local_then_publish(out, lambda local: fig.savefig(local, dpi=100, format="png"))
  plt.close(fig)
  return keys


def body(fv, args):
  del args
  command.require(fv, "workdir", "out")
  from dvd_gan.evaluation.periodic import METRICS_FILE, read_metrics  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  if not fv.out.endswith(".png"):
    raise EvalError(f"--out must name a .png file, got {fv.out}")
  if io.missing_output_folder(fv.out):
    raise EvalError(f"output directory does not exist: {io.missing_output_folder(fv.out)}")
  records = read_metrics(fv.workdir)
  if not records:
    raise EvalError(f"no evaluations in {io.join(fv.workdir, METRICS_FILE)} (eval.every_steps > 0 writes them)")
  metrics = [m.strip() for m in fv.metric.split(",") if m.strip()] if fv.metric else None
  keys = plot(records, fv.out, metrics, fv.title if fv.title is not None else fv.workdir)
  print(f"wrote {fv.out}: {', '.join(keys)} over {len(records)} evaluations")


def main(argv=None) -> int:
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
