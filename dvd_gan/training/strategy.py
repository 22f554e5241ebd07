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
