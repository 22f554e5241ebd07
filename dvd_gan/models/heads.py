"""Projection output head of the discriminators (Miyato & Koyama 2018, as BigGAN).

    score(h, y) = linear(h) + <embed(y), h>

with `linear` an SNDense(1) and `embed` an SNEmbedding(num_classes, C); the inner product is dropped when
`num_classes = 0` (unconditional).
"""
import keras
import tensorflow as tf

from dvd_gan import layers as L

_PACKAGE = "dvd_gan"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ProjectionHead(keras.layers.Layer):
  """`call(h [B, ..., C], y [B] int or None, training=None) -> [B, ...]` float32 scores.

  `y` is per video: its embedding is broadcast over every axis of `h` between batch and channels (e.g. the k
  frames of DS), so it is never repeated in a wrong order.
  """

  def __init__(self, num_classes, **kwargs):
    super().__init__(**kwargs)
    self.num_classes = int(num_classes)
    self.linear = L.SNDense(1, name="linear")
    self.embed = None

  def build(self, input_shape):
    channels = input_shape[-1]
    self.linear.build(input_shape)
    if self.num_classes > 0:
      self.embed = L.SNEmbedding(self.num_classes, channels, name="projection_embedding")
      self.embed.build((None,))

  def call(self, h, y=None, training=None):
    score = self.linear(h, training=training)[..., 0]
    if self.embed is not None:
      if y is None:
        raise ValueError(f"this discriminator is class-conditional ({self.num_classes} classes): pass y")
      e = tf.cast(self.embed(tf.cast(y, tf.int32), training=training), h.dtype)  # [B, C]
      e = tf.reshape(e, [-1] + [1] * (h.shape.rank - 2) + [h.shape[-1]])
      score = score + tf.reduce_sum(h * e, axis=-1)
    return tf.cast(score, tf.float32)

  def get_config(self):
    config = super().get_config()
    config["num_classes"] = self.num_classes
    return config
