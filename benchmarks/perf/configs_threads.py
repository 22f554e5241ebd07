"""The start of a benchmark script that times steps in its own process with the training configs' threads.

TensorFlow takes thread settings only before its runtime starts, so `start` comes before anything that imports
TensorFlow's ops (benchmarks.perf.common included).
"""
from eval import command, io


def start(json_path):
  """Refuses an output file in a missing folder (one-line usage error), then sets one intra-op and two inter-op
  threads (experiments/tiny.py, demo.py) and returns the tensorflow module."""
  if json_path and io.missing_output_folder(json_path):
    raise command.UsageError(f"output directory does not exist: {io.missing_output_folder(json_path)}")
  import tensorflow as tf  # noqa: PLC0415 - the thread settings must come before the runtime starts
  tf.config.threading.set_intra_op_parallelism_threads(1)
  tf.config.threading.set_inter_op_parallelism_threads(2)
  return tf


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
