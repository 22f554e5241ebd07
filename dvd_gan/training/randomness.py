"""Per-step randomness drawn for the GLOBAL batch and sliced per replica.

Every random quantity of a training step (latents z, sampled class labels y, DS's frame indices) is drawn
with stateless ops from one seed for the whole global batch B, and each replica takes its own rows
[r * b, (r + 1) * b). A step on n replicas therefore sees exactly the numbers a step on one replica with
batch B sees: the equivalence test relies on it, and resuming a run only needs the seed generator's state.
"""
import tensorflow as tf


def replica_slice(x, per_replica_batch: int):
  """Rows of the global-batch tensor `x` [B, ...] that belong to the current replica: [b, ...]."""
  ctx = tf.distribute.get_replica_context()
  rid = ctx.replica_id_in_sync_group if ctx is not None else 0
  start = tf.cast(rid, tf.int32) * per_replica_batch
  return x[start:start + per_replica_batch]


def num_replicas() -> int:
  ctx = tf.distribute.get_replica_context()
  return ctx.num_replicas_in_sync if ctx is not None else 1


def latents(seed, global_batch: int, z_dim: int, num_classes: int, truncation: float = 1.0):
  """z [B, z_dim] ~ N(0, truncation^2 I) and y [B] int32 uniform over classes (None if unconditional)."""
  seeds = tf.random.experimental.stateless_split(seed, 2)
  z = truncation * tf.random.stateless_normal([global_batch, z_dim], seeds[0])
  y = None
  if num_classes > 0:
    y = tf.random.stateless_uniform([global_batch], seeds[1], 0, num_classes, dtype=tf.int32)
  return z, y


def frame_indices(seed, global_batch: int, num_frames: int, k: int):
  """[B, k] int32 frame indices for DS, each row k distinct frames drawn uniformly (all frames if k >= T)."""
  if k >= num_frames:
    return tf.tile(tf.range(num_frames, dtype=tf.int32)[None], [global_batch, 1])
  keys = tf.random.stateless_uniform([global_batch, num_frames], seed)
  _, idx = tf.math.top_k(keys, k=k)
  return tf.sort(idx, axis=-1)
