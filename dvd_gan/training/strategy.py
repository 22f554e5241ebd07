"""Builds the tf.distribute strategy named in the config: the only place that differs per platform.

  "default"      the default strategy (one device: the CPU, or the first GPU)
  "mirrored"     MirroredStrategy over all local GPUs (or over `devices`, e.g. ("/cpu:0", "/cpu:1") in tests)
  "multi_worker" MultiWorkerMirroredStrategy; the cluster comes from the TF_CONFIG environment variable
  "tpu"          TPUStrategy; `tpu` is the TPU name, or "local" on a Cloud TPU VM
"""
import json
import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def make_strategy(name: str = "default", tpu: str = "", devices=None) -> tf.distribute.Strategy:
  """Returns the strategy `name` (one of STRATEGIES). Raises ValueError with a one-line message on bad input."""
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    return tf.distribute.MirroredStrategy(devices=list(devices) if devices else None)
  if name == "multi_worker":
    if not os.environ.get("TF_CONFIG"):
      raise ValueError("strategy 'multi_worker' needs the TF_CONFIG environment variable (cluster + task)")
    try:
      json.loads(os.environ["TF_CONFIG"])
    except json.JSONDecodeError as e:
      raise ValueError(f"TF_CONFIG is not valid JSON: {e}") from None
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "tpu":
    if not tpu:
      raise ValueError("strategy 'tpu' needs --tpu=<name> (or --tpu=local on a Cloud TPU VM)")
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    if tpu != "local":
      tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")


def apply_thread_settings(intra_op: int = 0, inter_op: int = 0, log=print) -> bool:
  """Sets TensorFlow's host thread pools (`train.intra_op_threads`, `train.inter_op_threads`; 0 keeps the
  default). They can only be set before TensorFlow's runtime starts (the first op or device query of the
  process): `python -m dvd_gan.train` calls this first. When the runtime already runs with other values (e.g.
  `train()` called from a notebook or a test), nothing changes and one line says so. Returns whether the
  process now has the requested settings."""
  wanted = {"intra_op": int(intra_op), "inter_op": int(inter_op)}
  setters = {"intra_op": tf.config.threading.set_intra_op_parallelism_threads,
             "inter_op": tf.config.threading.set_inter_op_parallelism_threads}
  getters = {"intra_op": tf.config.threading.get_intra_op_parallelism_threads,
             "inter_op": tf.config.threading.get_inter_op_parallelism_threads}
  ok = True
  for key, n in wanted.items():
    if n < 0:
      raise ValueError(f"train.{key}_threads must be >= 0 (0: TensorFlow's default), got {n}")
    if n == 0 or getters[key]() == n:
      continue
    try:
      setters[key](n)
    except RuntimeError:  # the runtime is initialised: the pools exist already
      log(f"train.{key}_threads={n} not applied: TensorFlow's runtime was already started in this process "
          "(set it before the first TensorFlow op, as python -m dvd_gan.train does)")
      ok = False
  return ok
