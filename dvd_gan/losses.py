"""Hinge losses of DVD-GAN (docs/paper.md, section 2.2; Lim & Ye 2017, as in SAGAN/BigGAN).

Pure functions of per-VIDEO scores `[B]`: DS's score of a video is already the sum of its k frame scores, so
the hinge is applied to that sum, never to each frame score. The training loop calls them once for DS and
once for DT and adds the results. The math is done in float32, also under mixed precision.
"""
import tensorflow as tf


def _as_scores(scores, name: str) -> tf.Tensor:
  """Casts to float32 and checks the scores are one per video, `[B]`."""
  scores = tf.convert_to_tensor(scores)
  if scores.shape.rank is not None and scores.shape.rank != 1:
    raise ValueError(
        f"{name} must be one score per video with shape [B], got shape {scores.shape}; "
        "sum DS's frame scores per video before the hinge")
  return tf.cast(scores, tf.float32)


def d_hinge_loss(real_scores, fake_scores) -> tf.Tensor:
  """Discriminator hinge loss: mean(relu(1 - D(x))) + mean(relu(1 + D(G(z)))).

  Args:
    real_scores: `[B]` scores of real videos.
    fake_scores: `[B']` scores of generated videos.
  Returns:
    float32 scalar.
  """
  real = _as_scores(real_scores, "real_scores")
  fake = _as_scores(fake_scores, "fake_scores")
  return tf.reduce_mean(tf.nn.relu(1.0 - real)) + tf.reduce_mean(tf.nn.relu(1.0 + fake))


def g_hinge_loss(fake_scores) -> tf.Tensor:
  """Generator hinge loss: -mean(D(G(z))) (NOT mean(relu(1 - D(G(z))))).

  Args:
    fake_scores: `[B]` scores of generated videos.
  Returns:
    float32 scalar.
  """
  return -tf.reduce_mean(_as_scores(fake_scores, "fake_scores"))
