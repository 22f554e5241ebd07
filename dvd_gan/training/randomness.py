"""Per-step randomness drawn for the GLOBAL batch and sliced per replica.

Every random quantity of a training step (latents z, sampled class labels y, DS's frame indices) is drawn
with stateless ops from one seed for the whole global batch B, and each replica takes its own rows
[r * b, (r + 1) * b). A step on n replicas therefore sees exactly the numbers a step on one replica with
batch B sees: the equivalence test relies on it, and resuming a run only needs the seed generator's state.
Latents z and y are drawn by `dvd_gan.random_streams.latents`.
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


def frame_indices(seed, global_batch: int, num_frames: int, k: int):
  """[B, k] int32 frame indices for DS, each row k distinct frames drawn uniformly (all frames if k >= T)."""
  if k >= num_frames:
    return tf.tile(tf.range(num_frames, dtype=tf.int32)[None], [global_batch, 1])
  keys = tf.random.stateless_uniform([global_batch, num_frames], seed)
  _, idx = tf.math.top_k(keys, k=k)
  return tf.sort(idx, axis=-1)
