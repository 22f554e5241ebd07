"""All performance figures of the project in one table: `python benchmarks/run_all.py [--quick]`.

Prints one table (section, figure, value, target, PASS / MISS) and writes benchmarks/results/run_all.json
(run_all_quick.json with --quick) with every measurement, the machine, TensorFlow version, oneDNN and thread
settings. Every figure is a ratio measured in this run (both sides interleaved, best of N), or a rate
against this machine's peak measured in this run; targets are a column of the table, never a test.

Sections (benchmarks/perf/): peak (fixed-size float32 matmul and 3x3 convolution), 1 dual discriminator vs
full-resolution references and the phi x k cost grid, 2 full vs separable attention, 3 training step
(fraction of peak, the optimisations' speed-up, profile, XLA, steps_per_loop), 4 peak memory per step (child
processes), 5 replicas and the TPU v3 estimate, 6 sampling from the SavedModel vs the Keras generator.

--quick (CI: meant to stay under 10 minutes on 2 idle cores) shrinks every size, runs the sections
peak, dual, attention, step, memory and sampling, and skips XLA compilation, the paper-width memory runs and
the full-width FLOP count; the full run takes well over an hour on 2 cores.
"""
import importlib.util
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

from absl import flags  # noqa: E402

from eval import command, io  # noqa: E402

SECTIONS = ("peak", "dual", "grid", "attention", "step", "loop", "memory", "scaling", "sampling")
# The code before the performance work (2026-11-23): the --baseline_checkout that section 3's steps/s target
# (>= 3x, same model, same threads) is measured against; docs/performance.md shows how to check it out.
BASELINE_COMMIT = "1b0b72f"
QUICK_SECTIONS = ("peak", "dual", "attention", "step", "memory", "sampling")  # CI: within 10 minutes


def define_flags(fv, argv):
  del argv
  flags.DEFINE_boolean("quick", False, "Small sizes, no XLA, no paper-width runs (CI).", flag_values=fv)
  flags.DEFINE_list("sections", None, f"Sections to run, of {', '.join(SECTIONS)} (default: all; with --quick: "
                    f"{', '.join(QUICK_SECTIONS)}).", flag_values=fv)
  flags.DEFINE_string("out", None, "JSON output (default benchmarks/results/run_all[_quick].json).",
                      flag_values=fv)
  flags.DEFINE_integer("repeats", None, "Timed repeats per measurement (best of N).", flag_values=fv)
  flags.DEFINE_boolean("memory", True, "Measure peak memory in child processes.", flag_values=fv)
  flags.DEFINE_float("memory_limit_gib", 22.0, "Address-space limit of every child process.", flag_values=fv)
  flags.DEFINE_string("baseline_checkout", None, "An older checkout of the repository (the target's: "
                      "BASELINE_COMMIT): the tiny step is timed with its dvd_gan and with this one's on the same "
                      "model, with the same thread settings (TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS in "
                      "every child's environment), in alternating child processes (the steps/s target of section 3).",
                      flag_values=fv)
  flags.DEFINE_integer("baseline_rounds", 2, "Rounds of the --baseline_checkout children (each round runs every "
                       "code, model and thread setting once; the best round counts).", flag_values=fv)
  flags.DEFINE_list("paper_memory_frames", ["12", "48"], "Frame counts of the paper-width 64x64 memory runs "
                    "(full run only; minutes per child process).", flag_values=fv)
  flags.DEFINE_list("merge", [], "Print one table from these result files (runs of different sections) and "
                    "write it to --out.", flag_values=fv)
  flags.DEFINE_list("step_parts", ["tiny", "ops", "checkout", "xla", "big"], "Parts of the step section: the "
                    "tiny step and its profile, ops and ms per step of the tiny and demo steps (with "
                    "--baseline_checkout: that checkout's too, same threads), the older checkout, XLA on/off, the "
                    "12x64x64 step.", flag_values=fv)
  flags.DEFINE_string("child", None, "Internal: run one measurement task (JSON) and print its RESULT.",
                      flag_values=fv)


class Settings:
  """Sizes of every section, full run or --quick."""

  def __init__(self, fv):
    q = fv.quick
    self.quick = q
    self.repeats = fv.repeats or (3 if q else 5)
    self.memory = fv.memory
    self.memory_limit_gib = fv.memory_limit_gib
    self.child_timeout = 600 if q else 3600
    # 1: the paper's 48 frames; reduced width and (quick) resolution.
    self.d_frames, self.d_resolution = 48, (32 if q else 64)
    self.d_ch, self.d_batch = (8, 1) if q else (16, 2)
    self.grid_frames = 12
    # 2: one attention map [T, H, W, C].
    self.attn_frames, self.attn_size, self.attn_channels = (12, 16, 32) if q else (12, 32, 64)
    self.attn_memory_sizes = (24, 32)  # maps whose step peak is measured (child processes) for the fit
    # 3: training steps.
    self.step_parts = tuple(fv.step_parts)
    self.step_repeats = 3 if q else 8
    self.loop_steps = 10
    self.big_step_repeats = 1 if q else 2
    self.step_width_divisor, self.step_batch = (16, 2) if q else (4, 8)
    self.xla = not q
    self.baseline_checkout = fv.baseline_checkout
    self.baseline_rounds = fv.baseline_rounds
    self.keras_adam_baseline = not q
    # 4: memory grid (child processes) and the paper-width runs.
    if q:  # (the remat pair below also measures 12x32x32 without remat)
      self.memory_grid = [dict(frames=24, resolution=32, width_divisor=8, batch=4)]
    else:
      self.memory_grid = ([dict(frames=12, resolution=64, width_divisor=d, batch=2) for d in (8, 4)]
                          + [dict(frames=48, resolution=64, width_divisor=8, batch=2)]
                          + [dict(frames=12, resolution=r, width_divisor=8, batch=2) for r in (32, 128)])
    self.remat_specs = [dict(frames=12, resolution=32, width_divisor=8, batch=4) if q else
                        dict(frames=12, resolution=64, width_divisor=4, batch=4)]
    self.paper_memory_frames = () if q else tuple(int(f) for f in fv.paper_memory_frames if f)
    self.remat = not q
    # 5, 6.
    self.tpu_estimate = not q
    self.sample_width_divisor = 8 if q else 1
    self.sample_repeats = 5 if q else 10


def _log(msg):
  print(msg, flush=True)


def _child(task_json):
  # children loads TensorFlow and dvd_gan (maybe an older checkout's, first on the child's path): child only;
  # this checkout's children.py, by path (an older checkout first on the path has its own, or none)
  spec = importlib.util.spec_from_file_location("_run_all_children",
                                                os.path.join(ROOT, "benchmarks", "perf", "children.py"))
  children = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(children)
  result = children.run_task(json.loads(task_json))
  print("RESULT " + json.dumps(result), flush=True)
  return 0


def body(fv, args):
  del args
  if fv.child:
    return _child(fv.child)
  if fv.merge:
    return _merge(fv.merge, fv.out or os.path.join(ROOT, "benchmarks", "results", "run_all.json"))
  if fv.sections is None:
    fv.sections = list(QUICK_SECTIONS if fv.quick else SECTIONS)
  unknown = sorted(set(fv.sections) - set(SECTIONS))
  if unknown:
    raise command.UsageError(f"unknown sections {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
  import tensorflow as tf  # noqa: PLC0415 - TF start-up: devices set before the benchmark modules load
  cpus = tf.config.list_physical_devices("CPU")
  try:  # two logical CPU devices for the 2-replica figure (section 5); the default strategy uses the first
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
  except RuntimeError:
    pass
  # after the logical devices are set; not at the top: a --child may run an older checkout's dvd_gan, which
  # lacks modules these import
  from benchmarks.perf import common, cost, training  # noqa: PLC0415 - TF start-up, older checkouts' children
  s = Settings(fv)
  out_path = fv.out or os.path.join(ROOT, "benchmarks", "results",
                                    "run_all_quick.json" if s.quick else "run_all.json")
  start = time.time()
  env = common.environment()
  env["load_average_before"] = common.load_average()
  _log(f"run_all {'--quick ' if s.quick else ''}on {env['machine']['cpus']} x {env['machine']['cpu']}, "
       f"TensorFlow {env['tensorflow']}, load {env['load_average_before']}")
  rows, results = [], {"settings": {k: v for k, v in vars(s).items()}}
  peak = common.measure_peak(s.quick, max(s.repeats, 5))
  results["peak"] = peak
  rows.append(common.row("peak", "peak GFLOP/s (max of matmul, conv)", peak["peak_gflops"], "GFLOP/s", None, None,
                         f"matmul {peak['matmul_n']}^2: {peak['matmul_gflops']:.0f}, conv 3x3 "
                         f"[{peak['conv_images']},64,64,128]->128: {peak['conv_gflops']:.0f}"))
  sections = [("dual", cost.dual_discriminator, False), ("grid", cost.ablation_grid, False),
              ("attention", cost.attention, False), ("step", training.training_step, True),
              ("loop", training.steps_per_loop, False),
              ("memory", training.memory, False), ("scaling", training.scaling, False),
              ("sampling", training.sampling, False)]
  for name, fn, needs_peak in sections:
    if name not in fv.sections:
      continue
    t0 = time.time()
    try:
      section_rows, data = fn(s, peak["peak_gflops"], _log) if needs_peak else fn(s, _log)
    except Exception as e:
      _log(f"section {name} failed: {type(e).__name__}: {e}")
      section_rows, data = [common.row(name, "section failed", None, "", None, False, command.one_line(e))], None
    results[name] = data
    rows.extend(section_rows)
    _log(f"[{name}] {time.time() - t0:.0f} s")
    _write(out_path, env, rows, results)  # after every section: a long run that is stopped keeps its figures
  env["load_average_after"] = common.load_average()
  env["seconds"] = round(time.time() - start, 1)
  _log("")
  common.print_table(rows)
  _log(f"\n{env['date']}, commit {env['commit']}, {env['machine']['cpus']} x {env['machine']['cpu']}, "
       f"TensorFlow {env['tensorflow']}, oneDNN {env['onednn']}, {env['seconds']:.0f} s, "
       f"load {env['load_average_before']} -> {env['load_average_after']}")
  _write(out_path, env, rows, results)
  _log(f"wrote {out_path}")
  return 0


def _write(path, env, rows, results):
  io.makedirs(os.path.dirname(path))
  io.write_json(path, {"environment": env, "table": rows, "results": results})


def _merge(paths, out_path):
  """One table and one JSON from several result files (runs of different sections)."""
  from benchmarks.perf import common  # noqa: PLC0415 - TF start-up: loads TensorFlow (see body)
  runs = [io.read_json(p) for p in paths]
  rows = [r for run in runs for r in run["table"]]
  merged = {"environment": [run["environment"] for run in runs], "table": rows,
            "results": {k: v for run in runs for k, v in run["results"].items()}, "merged_from": list(paths)}
  common.print_table(rows)
  for run in runs:
    e = run["environment"]
    _log(f"{e['date']}, commit {e['commit']}, {e['machine']['cpus']} x {e['machine']['cpu']}, TensorFlow "
         f"{e['tensorflow']}, load {e.get('load_average_before')} -> {e.get('load_average_after')}")
  io.write_json(out_path, merged)
  _log(f"wrote {out_path}")
  return 0


def main(argv=None):
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
