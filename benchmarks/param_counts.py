"""Parameter counts of G, DS and DT for every paper config in experiments/.

    PYTHONPATH=. python benchmarks/param_counts.py [--out benchmarks/results/param_counts.json]

Builds each config's models (variables only, by tracing a batch-1 call; `fast_init` replaces the slow
orthogonal initialiser, which does not change any count), prints a Markdown table and writes the JSON
(to a temporary name, then renamed). The Figure 7 ablations have the 12-frame 64x64 model's sizes (k and
phi change no weight shape) and are not listed.
"""
import argparse
import gc
import importlib.util
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from dvd_gan.models.build import build_variables, count_parameters, fast_init, make_models  # noqa: E402

PAPER_CONFIGS = (
    "kinetics600_12f_64",
    "kinetics600_48f_64",
    "kinetics600_12f_128",
    "kinetics600_48f_128",
    "kinetics600_12f_256",
    "ucf101_16f_128",
    "tiny",
)


def load_config(name, arg=None):
  """`get_config(arg)` of experiments/<name>.py."""
  path = os.path.join(REPO, "experiments", name + ".py")
  spec = importlib.util.spec_from_file_location(f"experiments_{name}", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config() if arg is None else module.get_config(arg)


def count_config(config):
  """`{"G": n, "DS": n, "DT": n}` trainable parameters of the config's models."""
  with fast_init("zeros"):
    g, ds, dt = make_models(config)
    build_variables(g, ds, dt, config)
  counts = {"G": count_parameters(g), "DS": count_parameters(ds), "DT": count_parameters(dt)}
  del g, ds, dt
  keras.backend.clear_session()
  gc.collect()
  return counts


def markdown_table(rows):
  lines = ["| config | T | H=W | classes | G ch | G | DS | DT | total |",
           "|---|---|---|---|---|---|---|---|---|"]
  for r in rows:
    total = r["G"] + r["DS"] + r["DT"]
    lines.append(f"| {r['config']} | {r['num_frames']} | {r['resolution']} | {r['num_classes']} | "
                 f"{r['g_ch']} | {r['G'] / 1e6:.1f}M | {r['DS'] / 1e6:.1f}M | {r['DT'] / 1e6:.1f}M | "
                 f"{total / 1e6:.1f}M |")
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results", "param_counts.json"))
  parser.add_argument("--configs", nargs="*", default=list(PAPER_CONFIGS))
  args = parser.parse_args(argv)
  rows = []
  for name in args.configs:
    start = time.time()
    c = load_config(name)
    counts = count_config(c)
    rows.append(dict(config=name, num_frames=c.num_frames, resolution=c.resolution,
                     num_classes=c.num_classes, g_ch=c.model.g_ch, **counts))
    print(f"{name}: {counts} ({time.time() - start:.0f} s)", file=sys.stderr, flush=True)
  print(markdown_table(rows))
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  tmp = args.out + ".tmp"
  with open(tmp, "w") as f:
    json.dump(rows, f, indent=2)
  os.replace(tmp, args.out)


if __name__ == "__main__":
  main()
