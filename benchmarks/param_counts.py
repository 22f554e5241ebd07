"""Parameter counts of G, DS and DT for every paper config in experiments/, and one batch-1 forward pass.

    python benchmarks/param_counts.py [--out=benchmarks/results/param_counts.json] [--noforward]
                                      [--configs=kinetics600_12f_64,tiny,...]

For each config: builds the models (variables only, by tracing a batch-1 call; `fast_init("normal")`
replaces the slow orthogonal initialiser by N(0, 0.02^2), which changes no count), counts the trainable
parameters, and splits G's count by part (`g_parts`: ConvGRU, attention = the self-attention after the RNN
plus the separable attention, residual blocks, other = class embedding, affine map to 4x4, output BN and
conv). Then it runs ONE inference forward pass at batch 1 of G (z, y -> video), DS and DT (on G's video)
eagerly on the CPU and times each (wall seconds on a shared 2-core machine: indicative only). DVD-GAN-FP
configs (T = "C + T"): G(z, C conditioning frames), DS and DT on the C + T frames; "other" in G's parts then
includes the conditioning network and the U-Net skip convs.

A second table gives the 12-frame 64x64 Kinetics-600 G with each residual block kind (`model.g_block`:
"biggan", the paper's, and "biggan_deep", appendix C's variant; experiments/ablation_g_block.py), counted
without tracing (`build_generator_from_shapes`).

Prints both Markdown tables and writes the JSON and the Markdown next to it (`.md`), each to a temporary
name, then renamed. The Figure 7 ablations have the 12-frame 64x64 model's sizes (k and phi change no weight
shape: tests/dvd_gan/models/test_paper_configs.py checks it) and are not listed.
"""
import gc
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from dvd_gan import experiments  # noqa: E402
from dvd_gan.models.build import (build_generator_from_shapes, build_variables, count_parameters,  # noqa: E402
                                  fast_init, make_models)
from dvd_gan.training.loop import resolve_config  # noqa: E402
from eval import command  # noqa: E402
from eval import io as eio  # noqa: E402

G_BLOCK_KINDS = ("biggan", "biggan_deep")
PAPER_CONFIGS = (
    "kinetics600_12f_64",
    "kinetics600_48f_64",
    "kinetics600_12f_128",
    "kinetics600_48f_128",
    "kinetics600_12f_256",
    "ucf101_16f_128",
    "kinetics600_16f_64_stride1",
    "bair_fp",
    "kinetics600_fp",
    "demo",
    "tiny",
    "tiny_fp",
)


def load_config(name, arg=None):
  """`get_config(arg)` of the experiment `name` (dvd_gan.experiments)."""
  return experiments.load(name if arg is None else f"{name}:{arg}")


def forward_seconds(g, ds, dt, config, seed=0):
  """Wall seconds of one batch-1 inference forward of G, DS and DT (DS/DT score G's video)."""
  n = int(config.num_classes)
  z = tf.random.stateless_normal([1, config.model.z_dim], seed=[seed, 0])
  y = tf.constant([n - 1], tf.int32) if n > 0 else None
  times = {}
  c = int(config.data.get("num_conditioning_frames", 0))
  context = None
  if c:  # DVD-GAN-FP: G(z, context) predicts T frames; DS and DT score [context; prediction]
    context = tf.random.stateless_uniform([1, c, config.resolution, config.resolution, 3], [seed, 2], -1.0, 1.0)
  start = time.perf_counter()
  video = g(z, context if c else y, training=False)
  times["G_forward_s"] = time.perf_counter() - start
  expected = (1, config.num_frames, config.resolution, config.resolution, 3)
  if tuple(video.shape) != expected or not np.all(np.isfinite(video.numpy())):
    raise RuntimeError(f"G's output is {video.shape} (expected {expected}) or not finite")
  if c:
    video = tf.concat([context, video], axis=1)
  for name, d in (("DS", ds), ("DT", dt)):
    start = time.perf_counter()
    score = d(video, y, training=False, seed=tf.constant([seed, 1]))
    times[f"{name}_forward_s"] = time.perf_counter() - start
    if tuple(score.shape) != (1,) or not np.all(np.isfinite(score.numpy())):
      raise RuntimeError(f"{name}'s score is {score.shape} (expected (1,)) or not finite")
  return times


def g_parts(g):
  """G's trainable parameters by part: {"rnn", "attention", "blocks", "other"} (they sum to G's count)."""
  rnn = count_parameters(g.rnn)
  attention = sum(count_parameters(a) for a in g.separable_attentions)
  if g.rnn_attention is not None:
    attention += count_parameters(g.rnn_attention)
  blocks = sum(count_parameters(b) for b in g.blocks)
  return {"rnn": rnn, "attention": attention, "blocks": blocks,
          "other": count_parameters(g) - rnn - attention - blocks}


def count_config(config, forward=True):
  """`{"G": n, "DS": n, "DT": n, "g_parts": {...}, "build_s": s[, "G_forward_s": s, ...]}` for the
  config's models."""
  start = time.perf_counter()
  with fast_init("normal"):
    g, ds, dt = make_models(config)
    build_variables(g, ds, dt, config)
  counts = {"G": count_parameters(g), "DS": count_parameters(ds), "DT": count_parameters(dt),
            "g_parts": g_parts(g), "build_s": time.perf_counter() - start}
  if forward:
    counts.update(forward_seconds(g, ds, dt, config))
  del g, ds, dt
  keras.backend.clear_session()
  gc.collect()
  return counts


def count_g_by_block(block, seed_config="ablation_g_block"):
  """`{"G": n, "g_parts": {...}}` of the 12-frame 64x64 Kinetics-600 G with residual blocks `block`."""
  config = load_config(seed_config, block)
  with fast_init("zeros"):
    g = make_models(config)[0]
    build_generator_from_shapes(g)
  out = {"G": count_parameters(g), "g_parts": g_parts(g)}
  del g
  keras.backend.clear_session()
  gc.collect()
  return out


def _millions(n):
  return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e6:.3f}M"


def markdown_table(rows):
  """One row per config: sizes, parameter counts and (if measured) batch-1 forward seconds."""
  lines = ["| config | T | H=W | classes | G ch | G rnn | G block | G | DS | DT | total | "
           "forward G / DS / DT (s) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
  for r in rows:
    total = r["G"] + r["DS"] + r["DT"]
    fwd = (f"{r['G_forward_s']:.2f} / {r['DS_forward_s']:.2f} / {r['DT_forward_s']:.2f}"
           if "G_forward_s" in r else "not run")
    frames = (f"{r['num_conditioning_frames']} + {r['num_frames']}" if r.get("num_conditioning_frames")
              else r["num_frames"])
    lines.append(f"| {r['config']} | {frames} | {r['resolution']} | {r['num_classes']} | "
                 f"{r['g_ch']} | {r['g_rnn']} | {r['g_block']} | {_millions(r['G'])} | {_millions(r['DS'])} | "
                 f"{_millions(r['DT'])} | {_millions(total)} | {fwd} |")
  return "\n".join(lines)


def g_parts_table(rows, label="config"):
  """One row per config (or block kind): G's parameters by part."""
  lines = [f"| {label} | ConvGRU | attention (after RNN + separable) | residual blocks | other | G |",
           "|---|---|---|---|---|---|"]
  for r in rows:
    p = r["g_parts"]
    lines.append(f"| {r[label]} | {_millions(p['rnn'])} | {_millions(p['attention'])} | "
                 f"{_millions(p['blocks'])} | {_millions(p['other'])} | {_millions(r['G'])} |")
  return "\n".join(lines)


def _write_atomic(path, text):
  eio.write_text(path, text)


def define_flags(fv, argv):
  flags.DEFINE_string("out", os.path.join(REPO, "benchmarks", "results", "param_counts.json"), "JSON output "
                      "(the Markdown table goes next to it as .md).", flag_values=fv)
  flags.DEFINE_list("configs", list(PAPER_CONFIGS), "Experiment names.", flag_values=fv)
  flags.DEFINE_boolean("forward", True, "Also time one batch-1 forward pass (--noforward: counts only).",
                       flag_values=fv)


def body(fv, args):
  known = experiments.names()
  unknown = [n for n in fv.configs if n not in known]
  if unknown:
    raise command.UsageError(f"no such config in experiments/: {', '.join(unknown)}")
  rows = []
  for name in fv.configs:
    c = resolve_config(load_config(name))  # as trained: tiny takes the synthetic data's 8 classes
    counts = count_config(c, forward=fv.forward)
    rows.append(dict(config=name, num_frames=c.num_frames, resolution=c.resolution,
                     num_conditioning_frames=int(c.data.get("num_conditioning_frames", 0)),
                     num_classes=c.num_classes, g_ch=c.model.g_ch, g_rnn=c.model.g_rnn,
                     g_block=c.model.g_block, **counts))
    print(f"{name}: {counts}", file=sys.stderr, flush=True)
  by_block = [dict(block=b, **count_g_by_block(b)) for b in G_BLOCK_KINDS]
  table, parts = markdown_table(rows), g_parts_table(rows)
  blocks = g_parts_table(by_block, label="block")
  print(f"{table}\n\nG by part:\n\n{parts}\n\n12-frame 64x64 Kinetics-600 G by residual block kind:\n\n{blocks}")
  out = os.path.abspath(fv.out)
  os.makedirs(os.path.dirname(out), exist_ok=True)
  _write_atomic(out, json.dumps({"configs": rows, "kinetics600_12f_64_g_by_block": by_block}, indent=2) + "\n")
  md = (f"Trainable parameters of G, DS and DT and one batch-1 inference forward pass (eager, CPU, shared "
        f"2-core machine; {time.strftime('%Y-%m-%d', time.gmtime())}; `python benchmarks/param_counts.py`)."
        f"\n\n{table}\n\nG by part (attention = the self-attention after the ConvGRU plus the separable "
        f"attention; other = class embedding, affine map to 4x4, output BN and conv):\n\n{parts}\n\n"
        f"The 12-frame 64x64 Kinetics-600 G with each residual block kind (`model.g_block`; "
        f"experiments/ablation_g_block.py):\n\n{blocks}\n")
  _write_atomic(os.path.splitext(out)[0] + ".md", md)


def main(argv=None):
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
