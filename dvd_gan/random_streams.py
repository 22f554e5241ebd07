"""Named random streams: the second word of the stateless key `[seed, stream]` each kind of draw uses.

Every random draw outside a training step is a pure function of a key `[seed, stream]` (`tf.random` stateless
ops), so two draws with the same seed but different purposes must use different streams. The values are
part of every recorded result (the same seed must keep giving the same samples, figures and exports), so they
never change; a new kind of draw gets a new value.

  SERVING          the export's samplers (`latents`, `sample_random`, `predict`): key [seed, 0]
  SAMPLE_SUMMARIES the fixed latents of the sample files the training loop writes: [seed + 1, 7]
  EVALUATION       the latents scored by the evaluators (protocols and end-of-run figures): [seed, 11]
  STANDING_STATS   standing-statistics batch i: fold_in([seed, 13], i)

`latents` draws z and y from a key the way all of them do.
"""
import enum

import tensorflow as tf


class Stream(enum.IntEnum):
  """The second word of a stateless key (module docstring). Values are fixed: they are in every result."""
  SERVING = 0
  SAMPLE_SUMMARIES = 7
  EVALUATION = 11
  STANDING_STATS = 13


def key(seed, stream: Stream):
  """int64 [2] stateless key `[seed, stream]`; `seed` may be a Python int or an int tensor."""
  if isinstance(seed, int):
    return tf.constant([seed, int(stream)], tf.int64)
  return tf.stack([tf.cast(seed, tf.int64), tf.constant(int(stream), tf.int64)])


def latents(seed, global_batch: int, z_dim: int, num_classes: int, truncation: float = 1.0):
  """z [B, z_dim] ~ N(0, truncation^2 I) and y [B] int32 uniform over classes (None if unconditional), from
  the stateless key `seed` (int64 [2])."""
  seeds = tf.random.experimental.stateless_split(seed, 2)
  z = truncation * tf.random.stateless_normal([global_batch, z_dim], seeds[0])
  y = None
  if num_classes > 0:
    y = tf.random.stateless_uniform([global_batch], seeds[1], 0, num_classes, dtype=tf.int32)
  return z, y
