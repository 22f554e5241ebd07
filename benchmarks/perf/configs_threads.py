"""The start of a benchmark script that times steps in its own process with the training configs' threads.

TensorFlow takes thread settings only before its runtime starts, so `start` comes before anything that imports
TensorFlow's ops (benchmarks.perf.common included).
"""
from eval import command, io


def define_flags(fv, rounds=12, per="side"):
  """The flags every such script takes: --configs, --rounds (default `rounds`), --steps (per `per` and round),
  --json."""
  from absl import flags  # noqa: PLC0415 - only the scripts' command lines need it

  flags.DEFINE_list("configs", ["tiny", "demo"], "Experiment configs whose training step is timed.", flag_values=fv)
  flags.DEFINE_integer("rounds", rounds, "Alternating rounds per config.", lower_bound=2, flag_values=fv)
  flags.DEFINE_integer("steps", 20, f"Steps per {per} and round.", lower_bound=1, flag_values=fv)
  flags.DEFINE_string("json", None, "Also write the figures here as JSON.", flag_values=fv)


def start(json_path):
  """Refuses an output file in a missing folder (one-line usage error), then sets one intra-op and two inter-op
  threads (experiments/tiny.py, demo.py) and returns the tensorflow module."""
  if json_path and io.missing_output_folder(json_path):
    raise command.UsageError(f"output directory does not exist: {io.missing_output_folder(json_path)}")
  import tensorflow as tf  # noqa: PLC0415 - the thread settings must come before the runtime starts
  tf.config.threading.set_intra_op_parallelism_threads(1)
  tf.config.threading.set_inter_op_parallelism_threads(2)
  return tf


def time_sides(name, rounds, steps, sides, installed, xla=False):
  """Times the training step of config `name` under each of `sides`, all in this process.

  `installed(side)` is a context manager under which that side's trainer is built and its step traced (its
  code patched in). Steps run in rounds of `steps` per side, the order rotating every round, so a machine that
  slows down or speeds up during the run weighs on every side alike.

  Returns:
    {side: {"ops": ops per step (dvd_gan.flops), "ms": [ms per step, per round], "cpu_ms": [CPU ms per step,
    per round]}}.

  `xla`: the per-replica D and G steps XLA-compiled (`train.xla`, how TPUs run them).
  """
  import resource  # noqa: PLC0415 - only for the CPU time
  import time  # noqa: PLC0415
  from benchmarks.perf import common, training  # noqa: PLC0415 - imports TensorFlow: after the thread settings
  from dvd_gan import experiments, flops  # noqa: PLC0415 - as above

  def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

  sides = tuple(sides)
  config = experiments.load(name)
  config.train.xla = bool(xla)
  trainers, out = {}, {}
  for side in sides:
    with installed(side):
      trainer, iterator, _ = training._trainer(config)
      for _ in range(3):
        common.sync(trainer.train_step(iterator))
    trainers[side] = (trainer, iterator)
    out[side] = {"ops": flops.count_concrete(trainer.train_step.get_concrete_function(iterator)).num_ops,
                 "ms": [], "cpu_ms": []}
  for r in range(rounds):
    for side in sides[r % len(sides):] + sides[:r % len(sides)]:
      trainer, iterator = trainers[side]
      c0, t0 = cpu_seconds(), time.perf_counter()
      for _ in range(steps):
        result = trainer.train_step(iterator)
      common.sync(result)
      out[side]["ms"].append((time.perf_counter() - t0) / steps * 1e3)
      out[side]["cpu_ms"].append((cpu_seconds() - c0) / steps * 1e3)
  return out


def measure_two_sides(name, rounds, steps, sides, installed, xla=False):
  """`time_sides` of the two `sides` (reference, candidate), summarised: per side the ops, median and best ms per
  step, median CPU ms per step and every round's ms; the median and range of the per-round ratios reference /
  candidate (> 1: the candidate is faster). `xla`: as in `time_sides`."""
  timed = time_sides(name, rounds, steps, sides, installed, xla)
  ms = {s: timed[s]["ms"] for s in sides}
  ratios = [a / b for a, b in zip(ms[sides[0]], ms[sides[1]])]
  return {"config": name + (" (XLA)" if xla else ""), "rounds": rounds, "steps": steps,
          "sides": {s: {"ops": timed[s]["ops"], "median_ms": round(median(ms[s]), 2), "best_ms": round(min(ms[s]), 2),
                        "median_cpu_ms": round(median(timed[s]["cpu_ms"]), 2), "ms": [round(v, 2) for v in ms[s]]}
                    for s in sides},
          "ratio_median": round(median(ratios), 3), "ratio_min": round(min(ratios), 3),
          "ratio_max": round(max(ratios), 3)}


def two_side_rows(result, sides):
  """The table lines of one `measure_two_sides` result: config, side, ops, ms median (best), CPU ms, ratio."""
  for side in sides:
    s = result["sides"][side]
    ratio = (f"{result['ratio_median']:.3f}x ({result['ratio_min']:.3f}-{result['ratio_max']:.3f})"
             if side == sides[1] else "")
    yield (result["config"], side, str(s["ops"]), f"{s['median_ms']:.1f} ({s['best_ms']:.1f})",
           f"{s['median_cpu_ms']:.1f}", ratio)


def median(values):
  """The middle value (the upper one of an even count)."""
  return sorted(values)[len(values) // 2]


def measure_and_report(fv, measure, header, rows):
  """The body of such a script: `measure(config, rounds, steps)` for every --configs, then one header line (the
  machine, TensorFlow, load before -> after, threads, rounds), the markdown table `header` (a list of column
  names) with the lines of `rows(result)`, and the JSON of --json (environment and results)."""
  start(fv.json)
  from benchmarks.perf import common  # noqa: PLC0415 - imports TensorFlow: after the thread settings
  import os  # noqa: PLC0415 - only for the load average
  env = common.environment()
  load_before = os.getloadavg()[0]
  results = [measure(name, fv.rounds, fv.steps) for name in fv.configs]
  print(f"{env['machine']['cpus']} x {env['machine']['cpu']}, TensorFlow {env['tensorflow']}, load "
        f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}, 1 intra-op / 2 inter-op threads, {fv.rounds} rounds of "
        f"{fv.steps} steps")
  print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
  for r in results:
    for line in rows(r):
      print("| " + " | ".join(line) + " |")
  if fv.json:
    io.write_json(fv.json, {"environment": env, "results": results})
