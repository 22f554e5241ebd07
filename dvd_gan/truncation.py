"""The truncation trick: drawing z closer to 0 trades variety for quality (docs/sampling.md).

Two modes, both pure functions of their seed (stateless random ops), both traced into the exported SavedModel
(`dvd_gan.export`, signature `latents`):

  scale     z = sigma * N(0, I): the paper's truncated samples use sigma = 0.44; sigma = 1 is the untruncated
            model and sigma = 0 gives z = 0.
  resample  BigGAN's: every component of z ~ N(0, I) whose magnitude exceeds the threshold t is drawn again,
            until none does, so each component follows N(0, 1) truncated to [-t, t]; components already
            inside [-t, t] keep their value (the same seed at two thresholds shares them). t must be > 0.
"""
import tensorflow as tf

MODES = ("scale", "resample")


def scale(z, sigma):
  """z [B, D] drawn from N(0, I) -> sigma * z, a draw of N(0, sigma^2 I)."""
  return tf.cast(sigma, z.dtype) * z


def resample(z, seed, threshold, max_rounds: int = 32):
  """Redraws every component of z [B, D] (a draw of N(0, I)) whose magnitude exceeds `threshold`.

  Rejection sampling in rounds: round r draws a fresh N(0, I) tensor from `stateless_fold_in(seed, r)` and
  replaces the components still outside [-t, t]. Rounds stop when none is outside, or after `max_rounds`
  (small thresholds reject most draws); the components still outside then come from
  `stateless_parameterized_truncated_normal` on [-t, t], the distribution the rejection converges to. So the
  result is exactly N(0, 1) truncated to [-t, t] per component, in bounded time.

  Args:
    z: float [B, D], a draw of N(0, I).
    seed: int64 [2], the stateless key of the redraws.
    threshold: float scalar t > 0 (checked by the caller: the serving graph asserts it).
    max_rounds: rejection rounds before the direct truncated-normal draw.
  Returns:
    float [B, D] with every |component| <= t.
  """
  t = tf.cast(threshold, z.dtype)
  shape = tf.shape(z)

  def outside(x):
    return tf.abs(x) > t

  def keep_going(r, x):
    return tf.logical_and(r < max_rounds, tf.reduce_any(outside(x)))

  def redraw(r, x):
    fresh = tf.random.stateless_normal(shape, tf.random.experimental.stateless_fold_in(seed, r), dtype=z.dtype)
    return r + 1, tf.where(outside(x), fresh, x)

  _, z = tf.while_loop(keep_going, redraw, [tf.constant(0, tf.int32), z])
  direct = tf.random.stateless_parameterized_truncated_normal(
      shape, tf.random.experimental.stateless_fold_in(seed, max_rounds), means=0.0, stddevs=1.0,
      minvals=-t, maxvals=t)
  return tf.where(outside(z), tf.cast(direct, z.dtype), z)
