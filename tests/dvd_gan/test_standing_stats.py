"""Standing statistics of the EMA generator (dvd_gan/standing_stats.py): the stored statistics are
the average of the per-batch, per-time-step moments, deterministic per seed, and the live G_ema is untouched.
"""
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.config import base_config
from dvd_gan.models.generator import Generator
from dvd_gan import standing_stats

N, B, SEED = 3, 2, 7


@pytest.fixture(scope="module")
def g_ema():
  """A tiny class-conditional G whose weights, `u` and moving statistics have moved away from their
  initial values (two training calls, then random moving statistics), standing in for a trained G_ema."""
  g = Generator(num_frames=3, resolution=8, num_classes=4, ch=4, multipliers=(2, 1), z_dim=6, embed_dim=5,
                bn_momentum=0.5)
  z = tf.random.stateless_normal([4, 6], seed=[1, 2])
  y = tf.constant([0, 1, 2, 3], tf.int32)
  g(z, y, training=True)
  g(z * 2.0, y, training=True)
  rng = np.random.RandomState(0)
  for w in g.weights:
    if "moving_" in w.path:
      w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
  return g


def _snapshot(model):
  return [np.array(w.numpy()) for w in model.weights]


@pytest.fixture(scope="module")
def refreshed(g_ema):
  """(G_ema's variables before the refresh, the standing-statistics generator of N batches of B, seed SEED)."""
  before = _snapshot(g_ema)
  return before, standing_stats.standing_stats_generator(g_ema, N, B, SEED)


def _hand_computed(g, num_batches, batch_size, seed):
  """Per batch: a copy of g with all of g's variables (so u is g's), run in training mode while every batch
  norm records its input; numpy moments over B, H, W per time step (over N, H, W for a 4-D input), averaged
  over the batches."""
  ref = Generator.from_config(g.get_config())
  ref(*standing_stats.batch_latents(seed, 0, 1, g.z_dim, g.num_classes), training=False)  # builds
  norms = standing_stats.batch_norm_layers(ref)
  inputs = {}
  for k, bn in enumerate(norms):
    def recording(x, scale, offset, training=None, _k=k, _normalize=bn.normalize_affine):
      inputs[_k] = np.asarray(tf.cast(x, tf.float32).numpy(), np.float64)
      return _normalize(x, scale, offset, training=training)
    bn.normalize_affine = recording
  sums = None
  for i in range(num_batches):
    ref.set_weights(g.get_weights())
    z, y = standing_stats.batch_latents(seed, i, batch_size, g.z_dim, g.num_classes)
    ref(z, y, training=True)
    moments = []
    for k in range(len(norms)):
      x = inputs[k]
      axes = (0, 2, 3) if x.ndim == 5 else (0, 1, 2)
      moments.append((x.mean(axis=axes), x.var(axis=axes)))
    sums = moments if sums is None else [(a + m, b + v) for (a, b), (m, v) in zip(sums, moments)]
  return [(m / num_batches, v / num_batches) for m, v in sums]


def test_stored_statistics_are_the_average_of_the_batch_moments(g_ema, refreshed):
  """Every batch norm's moving mean / variance in the standing-statistics generator equals the average over
  the same N batches of its input's per-time-step batch mean / variance, computed by hand (1e-4)."""
  _, sampler = refreshed
  norms = standing_stats.batch_norm_layers(sampler)
  expected = _hand_computed(g_ema, N, B, SEED)
  assert len(norms) == len(expected) == 2 * len(g_ema.blocks) + 1
  for bn, (mean, var) in zip(norms, expected):
    assert tuple(bn.moving_mean.shape) == mean.shape == (3, bn.moving_mean.shape[-1])
    np.testing.assert_allclose(bn.moving_mean.numpy(), mean, rtol=1e-4, atol=1e-4, err_msg=bn.path)
    np.testing.assert_allclose(bn.moving_variance.numpy(), var, rtol=1e-4, atol=1e-4, err_msg=bn.path)
    assert bn.momentum == 0.5  # restored after the accumulation


def test_live_g_ema_is_untouched_and_the_sampler_keeps_its_kernels(g_ema, refreshed):
  """The refresh changes no variable of the live G_ema (weights, spectral-norm u, moving statistics: bit
  for bit). The sampler holds G_ema's weights and u (it samples with G_ema's kernels) and differs only in
  the moving statistics, which moved."""
  before, sampler = refreshed
  for a, b in zip(before, _snapshot(g_ema)):
    np.testing.assert_array_equal(a, b)
  changed = []
  for w, s in zip(g_ema.weights, sampler.weights):
    if "moving_" in w.path:
      changed.append(not np.allclose(w.numpy(), s.numpy()))
    else:
      np.testing.assert_array_equal(w.numpy(), s.numpy(), err_msg=w.path)
  assert all(changed) and changed
  z = tf.random.stateless_normal([2, 6], seed=[5, 6])
  y = tf.constant([1, 3], tf.int32)
  assert not np.allclose(sampler(z, y, training=False).numpy(), g_ema(z, y, training=False).numpy())


def test_deterministic_for_a_fixed_seed(g_ema, refreshed):
  """Two refreshes with the same seed store identical statistics; another seed other statistics."""
  def stats(seed):
    return [bn.moving_mean.numpy() for bn in
            standing_stats.batch_norm_layers(standing_stats.standing_stats_generator(g_ema, N, B, seed))]
  a = [bn.moving_mean.numpy() for bn in standing_stats.batch_norm_layers(refreshed[1])]
  b, c = stats(SEED), stats(SEED + 1)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x, y)
  assert any(not np.allclose(x, z) for x, z in zip(a, c))


def test_off_by_default_and_settings_of_an_old_config(g_ema):
  """`eval.standing_stats_batches` 0 (the default, and what a config written before the keys existed
  means) samples from G_ema itself; > 0 from a standing-statistics copy."""
  config = base_config()
  assert standing_stats.sampling_generator(g_ema, config) is g_ema
  old = ml_collections.ConfigDict({"seed": 1, "eval": {"truncation": 1.0}})
  assert standing_stats.settings(old)["batches"] == 0
  config.eval.standing_stats_batches, config.eval.standing_stats_batch_size = 2, 3
  assert standing_stats.sampling_generator(g_ema, config) is not g_ema
  with pytest.raises(ValueError, match="standing statistics"):
    standing_stats.standing_stats_generator(g_ema, 0, B, SEED)


def test_a_kept_copy_measured_again_equals_a_new_one_and_is_traced_once(g_ema):
  """`StandingStats.accumulate` on a kept copy, after the source's weights moved, stores what a new copy of
  the moved source stores (bit for bit), holds the moved weights, returns the same copy every time and
  traces its training call once; the live source is not changed by either."""
  source = standing_stats.copy_generator(g_ema)
  kept = standing_stats.StandingStats(source)
  first = kept.accumulate(N, B, SEED)
  rng = np.random.RandomState(1)
  for w in source.trainable_weights:  # a training step later
    w.assign(w.numpy() + rng.normal(0.0, 0.05, w.shape).astype("float32"))
  before = _snapshot(source)
  again = kept.accumulate(N, B, SEED)
  fresh = standing_stats.standing_stats_generator(source, N, B, SEED)
  assert again is first is kept.copy
  assert kept._batch.experimental_get_tracing_count() == 1
  for a, b in zip(before, _snapshot(source)):
    np.testing.assert_array_equal(a, b)
  for w, a, b in zip(source.weights, again.weights, fresh.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=w.path)
    if "moving_" not in w.path:
      np.testing.assert_array_equal(a.numpy(), w.numpy(), err_msg=w.path)
  with pytest.raises(ValueError, match="another generator"):
    standing_stats.sampling_generator(g_ema, _config_with_standing_stats(), standing=kept)


def _config_with_standing_stats():
  config = base_config()
  config.eval.standing_stats_batches, config.eval.standing_stats_batch_size = N, B
  return config
