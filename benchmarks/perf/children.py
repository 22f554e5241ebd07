"""What a child process of run_all.py runs (one configuration per process, so peak memory is its own).

`run_task(task)` builds the task's models, resets the peak resident set (Linux `clear_refs`), runs its step
twice (`"runs": 1` for the paper-width training steps, minutes each on a CPU) and returns {"peak_rss": VmHWM,
"rss_before": resident bytes after building, "increase": peak - before (the step's memory, its tracing
included), "seconds": the faster call}.
"""
import importlib.util
import os
import sys
import time

import tensorflow as tf

import dvd_gan
from dvd_gan.models.build import fast_init
from dvd_gan.training.loop import resolve_config
from dvd_gan.training.trainer import build_trainer


def _sibling(name):
  """This checkout's benchmarks/perf/<name>.py, by path: an older checkout first on the path (whose dvd_gan a
  child times) must not supply the benchmark code."""
  spec = importlib.util.spec_from_file_location(f"_run_all_{name}", os.path.join(
      os.path.dirname(os.path.abspath(__file__)), f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


common = _sibling("common")


def _models():
  from benchmarks.perf import models  # noqa: PLC0415 - not importable against an old checkout (tiny_step)
  return models


def _measure(step, runs=2):
  """Peak resident bytes over `runs` calls of `step` (the first traces), against the resident set before the
  first call. TensorFlow keeps the buffers of a finished step for the next one, so a later step alone shows
  almost no growth: the first call's peak is the step's (its tracing adds tens of MB)."""
  times = []

  def calls():
    for _ in range(runs):
      start = time.perf_counter()
      common.sync(step())
      times.append(time.perf_counter() - start)

  _, peak, before = common.measure_peak_of(calls)
  return {"peak_rss": peak, "rss_before": before, "increase": (peak - before) if peak and before else None,
          "seconds": round(min(times), 3)}


def _d_fwd_bwd(task):
  ds, dt = _models().discriminator_pair(task["k"], task["phi"], task["ch"], task["shape"][2])
  fn, _ = _models().d_forward_backward(ds, dt, task["shape"])
  return _measure(fn)


def _attention(task):
  fn, _ = _models().attention_forward_backward(task["attention"], task["shape"])
  return _measure(fn)


def _train_step(task):
  """One training step (trainer.train_step) of a config given as {"frames", "resolution", "width_divisor",
  "batch", "remat", "fast_init"}; the paper's widths divided by width_divisor."""
  c = _models().paper_config(task["frames"], task["resolution"], task.get("width_divisor", 1), task["batch"])
  c.num_classes = int(task.get("num_classes", 0))
  c.model.remat = bool(task.get("remat", False))
  c.train.d_steps_per_g_step = int(task.get("d_steps", 2))
  with fast_init("normal"):
    trainer = build_trainer(c, tf.distribute.get_strategy())
  b, t, r = int(c.batch_size), int(c.num_frames), int(c.resolution)
  batch = {"video": tf.random.uniform([b, t, r, r, 3], -1.0, 1.0, seed=1), "label": tf.zeros([b], tf.int32)}
  iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
  out = _measure(lambda: trainer.train_step(iterator), runs=int(task.get("runs", 2)))
  out["parameters"] = int(sum(int(tf.size(v)) for m in (trainer.G, trainer.DS, trainer.DT)
                              for v in m.trainable_variables))
  return out


def _step_flops(task):
  """Dense FLOPs of one training step (traced, not run) of a paper config at the given batch."""
  from dvd_gan import flops as flops_lib  # noqa: PLC0415 - absent from older checkouts (tiny_step children)
  c = _models().paper_config(task["frames"], task["resolution"], task.get("width_divisor", 1), task["batch"])
  c.num_classes = int(task.get("num_classes", 0))
  with fast_init("zeros"):
    trainer = build_trainer(c, tf.distribute.get_strategy())
  b, t, r = int(c.batch_size), int(c.num_frames), int(c.resolution)
  spec = {"video": tf.TensorSpec([b, t, r, r, 3]), "label": tf.TensorSpec([b], tf.int32)}
  iterator = iter(tf.data.Dataset.from_tensors(
      {k: tf.zeros(v.shape, v.dtype) for k, v in spec.items()}).repeat())
  count = flops_lib.count_concrete(trainer.train_step.get_concrete_function(iterator))
  return {"dense_flops": count.dense, "num_ops": count.num_ops}


def _tiny_step(task):
  """Best time of `steps` training steps of experiments/tiny.py (task["experiment"]: another experiments/ file,
  e.g. "demo") with whatever `dvd_gan` is on the path (the
  parent puts an older checkout first to time the code before a change), the step's dense FLOPs counted by
  this checkout's counter and the models' parameter count (equal counts: the same model); only APIs every
  version has.

  task["g_block"]: G's block kind ("biggan_deep": the model of checkouts before `model.g_block` existed); only
  for a checkout whose config has the key. task["threads"]: the thread pools come from the child's environment
  (TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS, set by the parent for every checkout alike), so the
  config's own `train.*_threads` are not applied; without it the checkout applies its config's settings.
  """
  root = os.path.dirname(os.path.dirname(os.path.abspath(dvd_gan.__file__)))
  name = task.get("experiment", "tiny")
  c = resolve_config(common.load_file(name, os.path.join(root, "experiments", f"{name}.py")).get_config())
  if task.get("g_block"):
    if "g_block" not in c.model:
      raise ValueError(f"g_block={task['g_block']!r} asked of a checkout without model.g_block ({root})")
    c.model.g_block = task["g_block"]
  threads = None
  if not task.get("threads"):
    try:  # the checkout's host-thread settings, as its training loop applies them (absent in older checkouts)
      from dvd_gan.training.strategy import apply_thread_settings  # noqa: PLC0415 - absent in older checkouts
    except ImportError:
      pass
    else:
      threads = apply_thread_settings(c.train.get("intra_op_threads", 0), c.train.get("inter_op_threads", 0),
                                      log=lambda s: print(s, file=sys.stderr))
  trainer = build_trainer(c, tf.distribute.get_strategy())
  b, t, r = int(c.batch_size), int(c.num_frames), int(c.resolution)
  batch = {"video": tf.random.uniform([b, t, r, r, 3], -1.0, 1.0, seed=1), "label": tf.zeros([b], tf.int32)}
  iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
  # This checkout's FLOP counter, loaded by path (the `dvd_gan` imported here may be an older checkout's):
  # both sides of a comparison are counted the same way.
  flops = common.load_file("_flops_of_this_checkout", os.path.join(common.ROOT, "dvd_gan", "flops.py"))
  count = flops.count_concrete(trainer.train_step.get_concrete_function(iterator))
  best = common.best_times({"step": lambda: trainer.train_step(iterator)}, int(task.get("steps", 10)))["step"]
  # CPU time of the process's threads per step (median): unlike wall time it does not grow while other
  # processes hold the cores, so on a shared machine it still compares two codes run with the same threads
  cpu = []
  for _ in range(int(task.get("steps", 10))):
    start = time.process_time()
    common.sync(trainer.train_step(iterator))
    cpu.append(time.process_time() - start)
  parameters = int(sum(int(tf.size(v)) for m in (trainer.G, trainer.DS, trainer.DT)
                       for v in m.trainable_variables))
  return {"seconds": best, "cpu_seconds": sorted(cpu)[len(cpu) // 2], "dense_flops": count.dense,
          "num_ops": count.num_ops, "compiled_calls": count.compiled_calls, "parameters": parameters,
          "dvd_gan": root, "g_block": c.model.get("g_block", "biggan_deep (no model.g_block)"),
          "threads_applied": threads, "env_threads": {k: os.environ.get(k) for k in common.THREAD_VARIABLES},
          "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads()}


def _i3d_forward(task):
  """Best seconds per video of the Kinetics-400 I3D logits (eval.networks, genuine weights) on batches of
  `batch` uint8 videos [T, size, size, 3], the demo's evaluation input, with the thread pools of the child's
  environment applied as a training run applies its config's (so the batch is split as in a run)."""
  import numpy as np  # noqa: PLC0415 - only this task
  from eval import networks  # noqa: PLC0415 - only this task
  intra, inter = (int(os.environ.get(k, 0)) for k in common.THREAD_VARIABLES)
  tf.config.threading.set_intra_op_parallelism_threads(intra)
  tf.config.threading.set_inter_op_parallelism_threads(inter)
  net = networks.get_network("i3d-kinetics-400")
  b, t, r = int(task.get("batch", 8)), int(task.get("frames", 12)), int(task.get("size", 32))
  videos = np.random.default_rng(0).integers(0, 256, [b, t, r, r, 3], dtype=np.uint8)
  best = common.best_times({"i3d": lambda: net.features(videos, "logits")}, int(task.get("repeats", 3)))["i3d"]
  return {"seconds_per_video": best / b, "batch": b, "parts": net.parts}


TASKS = {"d_fwd_bwd": _d_fwd_bwd, "attention": _attention, "train_step": _train_step,
         "step_flops": _step_flops, "tiny_step": _tiny_step, "i3d_forward": _i3d_forward}


def run_task(task: dict) -> dict:
  kind = task.get("kind")
  if kind not in TASKS:
    raise ValueError(f"unknown child task kind {kind!r}; expected one of {sorted(TASKS)}")
  return TASKS[kind](task)
