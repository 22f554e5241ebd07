"""Self-attention over chosen axes of a video tensor (SAGAN / BigGAN, one head) and its separable form.

For x `[B, T, H, W, C]` and attended axes A (e.g. (1, 2, 3) = all T*H*W positions, (2,) = height only),
every other axis is folded into the batch, and with N the number of attended positions:
  theta = x W_theta  (C -> C/8),  phi = x W_phi (C -> C/8),  g = x W_g (C -> C/2)   (1x1 projections)
  beta  = softmax_j(theta_i . phi_j)                          [..., N, N]
  o     = (beta g) W_o  (C/2 -> C)
  out   = x + gamma * o,        gamma a learned scalar initialised to 0
All projections are spectrally normalised 1x1 convolutions without bias (BigGAN). Unlike BigGAN's 2-D
block, phi and g are not max-pooled (the attended set may be a single axis). C/8 and C/2 are floored at 1.
"""
import keras
import tensorflow as tf

from dvd_gan.layers import util
from dvd_gan.layers.spectral_norm import SNDense

_PACKAGE = "dvd_gan"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SelfAttention(keras.layers.Layer):
  """One-head self-attention attending jointly over `axes` of `[B, T, H, W, C]`; `call(x, training=None)`.

  Args:
    axes: the attended axes, a non-empty subset of (1, 2, 3) (T, H, W). Default: all of them.
  """

  def __init__(self, axes=(1, 2, 3), **kwargs):
    super().__init__(**kwargs)
    axes = tuple(sorted(int(a) for a in axes))
    if not axes or len(set(axes)) != len(axes) or not set(axes) <= {1, 2, 3}:
      raise ValueError(f"axes must be a non-empty subset of (1, 2, 3) (T, H, W), got {axes}")
    self.axes = axes

  def build(self, x_shape):
    if len(x_shape) != 5 or x_shape[-1] is None:
      raise ValueError(f"{self.name}: expected [B, T, H, W, C] with known C, got shape {x_shape}")
    c = x_shape[-1]
    proj = lambda units, name: SNDense(units, use_bias=False, name=name, dtype=self.dtype_policy)
    self.theta = proj(max(1, c // 8), "theta")
    self.phi = proj(max(1, c // 8), "phi")
    self.g = proj(max(1, c // 2), "g")
    self.o = proj(c, "o")
    for layer in (self.theta, self.phi, self.g):
      layer.build(x_shape)
    self.o.build(tuple(x_shape[:-1]) + (max(1, c // 2),))
    self.gamma = self.add_weight(name="gamma", shape=(), initializer="zeros")

  def _to_sequences(self, y):
    """`[B, T, H, W, K]` -> (`[B', N, K]`, the inverse permutation, the permuted shape) with the attended axes
    last before K; shapes static where they are (no shape ops in a traced step)."""
    others = [a for a in (0, 1, 2, 3) if a not in self.axes]
    perm = others + list(self.axes) + [4]
    y = tf.transpose(y, perm)
    shape = util.static_or_dynamic_shape(y)
    n = 1
    for i in range(len(others), 4):
      n *= shape[i]
    return tf.reshape(y, [-1, n, shape[-1]]), [perm.index(a) for a in range(5)], shape

  def call(self, x, training=None):
    if x.shape.rank != 5:
      raise ValueError(f"{self.name}: expected [B, T, H, W, C], got shape {x.shape}")
    # theta, phi and g as ONE 1x1 projection, their kernels side by side: the same products in one matrix
    # product, and one transpose to sequences instead of three.
    kernels = [layer.spectral_kernel(training) for layer in (self.theta, self.phi, self.g)]
    sizes = [k.shape[-1] for k in kernels]
    projected = tf.tensordot(x, tf.concat(kernels, axis=-1), axes=[[4], [0]])  # [B, T, H, W, 2 C/8 + C/2]
    sequences, inverse, shape = self._to_sequences(projected)
    theta, phi, g = tf.split(sequences, sizes, axis=-1)
    logits = tf.matmul(theta, phi, transpose_b=True)  # [B', N, N]
    beta = tf.cast(tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1), g.dtype)
    o = tf.matmul(beta, g)  # [B', N, C/2]
    o = tf.transpose(tf.reshape(o, shape[:-1] + [sizes[2]]), inverse)
    o = self.o(o, training=training)
    return x + tf.cast(self.gamma, x.dtype) * o

  def compute_output_shape(self, x_shape):
    return x_shape

  def get_config(self):
    config = super().get_config()
    config["axes"] = self.axes
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SeparableSelfAttention(keras.layers.Layer):
  """Separable self-attention (docs/paper.md, section 3.2): `SelfAttention` over height (axis 2), then width
  (axis 3), then time (axis 1), each with its own weights and gain. `call(x [B,T,H,W,C], training=None)`."""

  def __init__(self, **kwargs):
    super().__init__(**kwargs)
    self.attn_h = SelfAttention(axes=(2,), name="attn_height", dtype=self.dtype_policy)
    self.attn_w = SelfAttention(axes=(3,), name="attn_width", dtype=self.dtype_policy)
    self.attn_t = SelfAttention(axes=(1,), name="attn_time", dtype=self.dtype_policy)

  def build(self, x_shape):
    for layer in (self.attn_h, self.attn_w, self.attn_t):
      layer.build(x_shape)

  def call(self, x, training=None):
    x = self.attn_h(x, training=training)
    x = self.attn_w(x, training=training)
    return self.attn_t(x, training=training)

  def compute_output_shape(self, x_shape):
    return x_shape
