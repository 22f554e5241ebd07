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
