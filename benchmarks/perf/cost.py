"""Sections 1 and 2 of run_all.py: what the dual discriminator and separable attention save.

1. DS(k=8) + DT(phi = 2x2 average pool) against the full-resolution references the paper discusses (DS with
   k = T, DT with phi = identity, and both), forward + backward: time, dense FLOPs (dvd_gan.flops) and peak
   memory (a child process each); the FLOP ratio beside the pixel ratio; the phi x k ablation grid as a cost
   table (FLOPs exact; time = DS(k) + DT(phi), each timed).
2. Full versus separable self-attention on one [T, H, W, C] map: time, FLOPs, peak memory; the largest map
   (H = W, T and C fixed) each fits in 8 GiB, extrapolated from the measured peaks (an estimate).
"""
import numpy as np

from benchmarks.perf import common, models

REFERENCES = (  # (name, k, phi): the dual discriminator and the full-resolution references
    ("dual: DS k=8 + DT 2x2 pool", 8, "avgpool2"),
    ("DS k=T + DT 2x2 pool", None, "avgpool2"),
    ("DS k=8 + DT identity", 8, "identity"),
    ("DS k=T + DT identity", None, "identity"),
)
PHIS = ("avgpool2", "avgpool4", "identity", "random_crop_half")
KS = (1, 2, 8, 10)


def dual_discriminator(args, log):
  """Rows and JSON of section 1."""
  t, r, ch, b = args.d_frames, args.d_resolution, args.d_ch, args.d_batch
  shape = [b, t, r, r, 3]
  log(f"[1] dual discriminator vs references: {t} frames {r}x{r}, batch {b}, D ch {ch} (paper 128)")
  fns, counts, results = {}, {}, {}
  for name, k, phi in REFERENCES:
    ds, dt = models.discriminator_pair(k or t, phi, ch, r)
    fns[name], counts[name] = models.d_forward_backward(ds, dt, shape)
  times = common.best_times(fns, args.repeats)
  for i, (name, k, phi) in enumerate(REFERENCES):
    task = {"kind": "d_fwd_bwd", "k": k or t, "phi": phi, "ch": ch, "shape": shape}
    measure = args.memory and (not args.quick or i in (0, len(REFERENCES) - 1))  # quick: dual and both-full
    mem = common.run_child(task, args.memory_limit_gib, args.child_timeout, log) if measure else {}
    results[name] = {"k": k or t, "phi": phi, "seconds": times[name], "dense_flops": counts[name].dense,
                     "pixels_per_video": models.pixels(k or t, phi, t, r, r),
                     "peak_rss_bytes": mem.get("peak_rss"), "step_rss_increase_bytes": mem.get("increase"),
                     "memory_error": mem.get("error")}
    log(f"  {name}: {times[name]:.3f} s, {counts[name].dense / 1e9:.1f} GFLOP, "
        f"peak {_gib(mem.get('peak_rss'))}")
  dual = results[REFERENCES[0][0]]
  rows = []
  for name, _, _ in REFERENCES[1:]:
    ref = results[name]
    flop_ratio = ref["dense_flops"] / dual["dense_flops"]
    pixel_ratio = ref["pixels_per_video"] / dual["pixels_per_video"]
    time_ratio = ref["seconds"] / dual["seconds"]
    note = (f"pixels {pixel_ratio:.2f}x; time {time_ratio:.2f}x ({ref['seconds']:.2f} / {dual['seconds']:.2f} s)"
            + (f"; step memory {_ratio(ref['step_rss_increase_bytes'], dual['step_rss_increase_bytes'])} "
               f"({_gib(ref['step_rss_increase_bytes'])} / {_gib(dual['step_rss_increase_bytes'])})"
               if args.memory else ""))
    rows.append(common.row("1 dual D", f"FLOPs {name} / dual", flop_ratio, "x", None, None, note))
  single = t * r * r / dual["pixels_per_video"]
  rows.append(common.row("1 dual D", "pixels of one full-res video / dual's", single, "x", None, None,
                         f"THW / (kHW + T(H/2)(W/2)), T={t}, k=8"))
  return rows, {"shape": shape, "d_ch": ch, "results": results}


def ablation_grid(args, log):
  """phi x k cost table: rows per phi, FLOPs (exact) and time (DS(k) + DT(phi)) of forward + backward."""
  t, r, ch, b = args.grid_frames, args.d_resolution, args.d_ch, args.d_batch
  shape = [b, t, r, r, 3]
  log(f"[1] phi x k grid: {t} frames {r}x{r}, batch {b}, D ch {ch}{' (FLOPs only)' if args.quick else ''}")
  fns, counts = {}, {}
  for k in KS:
    ds, _ = models.discriminator_pair(k, None, ch, r)
    fns[f"k={k}"], counts[f"k={k}"] = models.d_forward_backward(ds, None, shape)
  for phi in PHIS:
    _, dt = models.discriminator_pair(None, phi, ch, r)
    fns[phi], counts[phi] = models.d_forward_backward(None, dt, shape)
  times = common.best_times(fns, args.repeats) if not args.quick else None
  grid = {phi: {k: {"gflop": (counts[phi].dense + counts[f"k={k}"].dense) / 1e9,
                    "seconds": (times[phi] + times[f"k={k}"]) if times else None} for k in KS} for phi in PHIS}
  base = grid["avgpool2"][8]

  def cell(c):
    flops = f"{c['gflop'] / base['gflop']:.2f}x"
    return flops if times is None else f"{flops}/{c['seconds'] / base['seconds']:.2f}x"

  rows = []
  for phi in PHIS:
    cells = ", ".join(f"k={k}: {cell(grid[phi][k])}" for k in KS)
    what = "FLOPs" if times is None else "FLOPs/time"
    rows.append(common.row("1 phi x k", f"phi={phi}: {what} vs (2x2 pool, k=8)", None, "", None, None, cells))
  return rows, {"shape": shape, "d_ch": ch, "grid": {phi: {str(k): v for k, v in g.items()}
                                                     for phi, g in grid.items()},
                "unit_cost_seconds": times,
                "gflop": {k: c.dense / 1e9 for k, c in counts.items()}}


def attention(args, log):
  """Rows and JSON of section 2."""
  t, h, c = args.attn_frames, args.attn_size, args.attn_channels
  shape = [1, t, h, h, c]
  log(f"[2] full vs separable attention on [{t}, {h}, {h}, {c}]")
  fns, counts = {}, {}
  for kind in ("full", "separable"):
    fns[kind], counts[kind] = models.attention_forward_backward(kind, shape)
  times = common.best_times(fns, args.repeats)
  out = {"shape": shape, "results": {}}
  mems = {}
  for kind in ("full", "separable"):
    sizes = args.attn_memory_sizes  # large enough for the step to show in the resident set
    mems[kind] = {}
    if args.memory:
      for s in sizes:
        task = {"kind": "attention", "attention": kind, "shape": [1, t, s, s, c]}
        mems[kind][s] = common.run_child(task, args.memory_limit_gib, args.child_timeout, log)
    out["results"][kind] = {"seconds": times[kind], "dense_flops": counts[kind].dense,
                            "attention_entries": models.attention_entries(kind, t, h, h),
                            "memory": {str(s): m for s, m in mems[kind].items()},
                            "largest_size_in_8gib": _largest_in(kind, mems[kind], t, c, 8 * common.GIB)}
  full, sep = out["results"]["full"], out["results"]["separable"]
  rows = [common.row("2 attention", "time full / separable (fwd+bwd)", full["seconds"] / sep["seconds"], "x",
                     "> 1", full["seconds"] > sep["seconds"],
                     f"{full['seconds']:.3f} / {sep['seconds']:.3f} s on {t}x{h}x{h}x{c}"),
          common.row("2 attention", "attention weights full / separable", full["attention_entries"] /
                     sep["attention_entries"], "x", None, None, "(THW)^2 / THW(H+W+T)")]
  if args.memory:
    s = max(args.attn_memory_sizes)
    pf = (full["memory"].get(str(s)) or {}).get("increase")
    ps = (sep["memory"].get(str(s)) or {}).get("increase")
    rows.append(common.row("2 attention", "step memory full / separable", (pf / ps) if pf and ps else None, "x",
                           None, None, f"{_gib(pf)} / {_gib(ps)} over the built layer, {t}x{s}x{s}x{c}"))
    rows.append(common.row("2 attention", "largest H=W in 8 GiB: full | separable",
                           f"{full['largest_size_in_8gib']} | {sep['largest_size_in_8gib']}", "", None, None,
                           f"T={t}, C={c}; estimate from the measured peaks"))
  return rows, out


def _largest_in(kind, mems, t, c, budget):
  """Largest H (= W) whose fitted step memory a*entries + b*T*H*W*C stays within `budget` (an estimate)."""
  pts = [(s, m["increase"]) for s, m in mems.items() if m and (m.get("increase") or 0) > 0]
  if len(pts) < 2:
    return None
  a = np.array([[models.attention_entries(kind, t, s, s), t * s * s * c] for s, _ in pts], dtype=float)
  y = np.array([m for _, m in pts], dtype=float)
  coef, *_ = np.linalg.lstsq(a, y, rcond=None)
  coef = np.maximum(coef, 0.0)
  mem = lambda s: coef[0] * models.attention_entries(kind, t, s, s) + coef[1] * t * s * s * c
  lo, hi = 1, 2
  while mem(hi) <= budget and hi < 1 << 16:
    hi *= 2
  while hi - lo > 1:
    mid = (lo + hi) // 2
    lo, hi = (mid, hi) if mem(mid) <= budget else (lo, mid)
  return lo


def _gib(x):
  return "n/a" if not x else f"{x / common.GIB:.2f} GiB"


def _ratio(a, b):
  return "n/a" if not a or not b else f"{a / b:.2f}x"


