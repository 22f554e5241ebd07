"""Hinge losses of DVD-GAN (docs/paper.md, section 2.2): formulas, the G-loss pitfall, float32 under mixed
precision, and clear errors for per-frame scores."""
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.losses import d_hinge_loss, g_hinge_loss


def _scores(n, seed, scale=2.0):
  return (np.random.RandomState(seed).randn(n) * scale).astype("float32")


def test_d_hinge_matches_formula():
  """d_hinge_loss = mean(relu(1 - real)) + mean(relu(1 + fake)) (numpy reference), for scores on both
  sides of the margins and for real / fake batches of different sizes."""
  real, fake = _scores(16, 0), _scores(9, 1)
  expected = np.mean(np.maximum(0, 1 - real)) + np.mean(np.maximum(0, 1 + fake))
  loss = d_hinge_loss(tf.constant(real), tf.constant(fake))
  assert loss.shape == () and loss.dtype == tf.float32
  np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-6)
  # Past both margins the loss is 0; at real = fake = 0 it is 2.
  assert float(d_hinge_loss([1.5, 3.0], [-1.2, -4.0])) == 0.0
  assert float(d_hinge_loss([0.0], [0.0])) == 2.0


def test_d_hinge_gradient_is_zero_past_the_margin():
  """Real scores > 1 and fake scores < -1 get zero gradient; scores inside the margin get -1/B (real) and
  +1/B' (fake)."""
  real = tf.Variable([2.0, 0.5, 1.5, -3.0])
  fake = tf.Variable([-2.0, 0.3])
  with tf.GradientTape() as tape:
    loss = d_hinge_loss(real, fake)
  g_real, g_fake = tape.gradient(loss, [real, fake])
  np.testing.assert_allclose(g_real.numpy(), [0.0, -0.25, 0.0, -0.25])
  np.testing.assert_allclose(g_fake.numpy(), [0.0, 0.5])


def test_g_loss_is_minus_mean_score_not_relu():
  """Pitfall: generator loss written as relu(1 - D(G(z))). g_hinge_loss = -mean(D(G(z))): it equals the
  numpy formula, keeps decreasing for scores > 1 (relu(1 - D) would be 0 there), and its gradient is
  -1/B for EVERY score, including scores far past the margin (relu(1 - D) would give 0)."""
  fake = _scores(12, 2)
  np.testing.assert_allclose(g_hinge_loss(tf.constant(fake)).numpy(), -fake.mean(), rtol=1e-6)
  high = tf.Variable([1.5, 3.0, 10.0, -0.5])
  with tf.GradientTape() as tape:
    loss = g_hinge_loss(high)
  np.testing.assert_allclose(tape.gradient(loss, high).numpy(), [-0.25] * 4)
  np.testing.assert_allclose(loss.numpy(), -3.5)
  assert float(g_hinge_loss([5.0, 5.0])) < float(g_hinge_loss([2.0, 2.0])) < 0.0


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_float32_under_mixed_precision(dtype):
  """Scores in float16 / bfloat16 (mixed-precision discriminators) give float32 losses and float32
  math: the result equals the float32 computation on the rounded scores, and a mean over
  many scores that would lose precision in low precision stays accurate."""
  real = tf.constant(_scores(4096, 3), dtype)
  fake = tf.constant(_scores(4096, 4), dtype)
  d, g = d_hinge_loss(real, fake), g_hinge_loss(fake)
  assert d.dtype == tf.float32 and g.dtype == tf.float32
  r32, f32 = tf.cast(real, tf.float32).numpy(), tf.cast(fake, tf.float32).numpy()
  expected = np.mean(np.maximum(0, 1 - r32.astype("float64"))) + np.mean(np.maximum(0, 1 + f32.astype(
      "float64")))
  np.testing.assert_allclose(d.numpy(), expected, rtol=1e-5)
  np.testing.assert_allclose(g.numpy(), -f32.astype("float64").mean(), rtol=1e-4, atol=1e-6)


def test_per_frame_scores_are_rejected():
  """Scores must be one per video `[B]`: DS frame scores `[B, k]` give a one-line ValueError telling to sum
  per video (the hinge of docs/paper.md acts on the per-video sum)."""
  with pytest.raises(ValueError, match=r"one score per video with shape \[B\]"):
    d_hinge_loss(tf.zeros([4, 8]), tf.zeros([4]))
  with pytest.raises(ValueError, match="one score per video"):
    g_hinge_loss(tf.zeros([4, 8]))


def test_losses_work_inside_tf_function():
  """The losses are pure functions usable in a compiled training step (same values as eager)."""
  real, fake = tf.constant(_scores(8, 5)), tf.constant(_scores(8, 6))
  step = tf.function(lambda r, f: (d_hinge_loss(r, f), g_hinge_loss(f)))
  d, g = step(real, fake)
  np.testing.assert_allclose(d.numpy(), d_hinge_loss(real, fake).numpy(), rtol=1e-6)
  np.testing.assert_allclose(g.numpy(), g_hinge_loss(fake).numpy(), rtol=1e-6)
