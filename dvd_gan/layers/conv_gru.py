"""Convolutional GRUs unrolled over time inside one layer (docs/paper.md, "Input and recurrent stem").

Multiplicative ConvGRU (used for most DVD-GAN models), `*` a k x k convolution, `.` elementwise:
  r_t = sigmoid(W_r * [h_{t-1}; x_t] + b_r)
  u_t = sigmoid(W_u * [h_{t-1}; x_t] + b_u)
  c_t = relu(W_c * [x_t; r_t . h_{t-1}] + b_c)
  h_t = u_t . h_{t-1} + (1 - u_t) . c_t
The standard ConvGRU is the same with tanh instead of relu for the candidate c_t (better for 48 frames).

W_r, W_u, W_c are three separate spectrally normalised convolutions ("same" padding). Their power iteration
runs once per forward pass (not once per time step): the normalised kernels are computed before the
unrolled loop and reused at every step.
"""
import keras
import tensorflow as tf

from dvd_gan.layers.spectral_norm import SNConv2D

_PACKAGE = "dvd_gan"


class _ConvGRUBase(keras.layers.Layer):
  """`call(inputs [B,T,H,W,Cin], initial_state=None [B,H,W,filters], training=None) -> [B,T,H,W,filters]`
  (every hidden state h_1 .. h_T). The state starts at zeros when `initial_state` is None. T is static."""

  _candidate_activation = None

  def __init__(self, filters, kernel_size=3, **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.kernel_size = int(kernel_size)
    conv = lambda name: SNConv2D(self.filters, self.kernel_size, name=name, dtype=self.dtype_policy)
    self.conv_r = conv("W_r")
    self.conv_u = conv("W_u")
    self.conv_c = conv("W_c")

  def build(self, inputs_shape):
    if len(inputs_shape) != 5 or inputs_shape[1] is None or inputs_shape[-1] is None:
      raise ValueError(
          f"{self.name}: inputs must be [B, T, H, W, C] with static T and C, got shape {inputs_shape}")
    _, _, h, w, c = inputs_shape
    joint = (None, h, w, c + self.filters)
    for conv in (self.conv_r, self.conv_u, self.conv_c):
      conv.build(joint)

  def call(self, inputs, initial_state=None, training=None):
    if inputs.shape.rank != 5:
      raise ValueError(f"{self.name}: inputs must be [B, T, H, W, C], got shape {inputs.shape}")
    num_steps = inputs.shape[1]
    if initial_state is None:
      shape = tf.shape(inputs)
      h = tf.zeros([shape[0], shape[2], shape[3], self.filters], dtype=inputs.dtype)
    else:
      h = tf.cast(initial_state, inputs.dtype)
      if h.shape.rank != 4 or h.shape[-1] != self.filters:
        raise ValueError(
            f"{self.name}: initial_state must be [B, H, W, {self.filters}], got shape {h.shape}")
    k_r = self.conv_r.spectral_kernel(training)
    k_u = self.conv_u.spectral_kernel(training)
    k_c = self.conv_c.spectral_kernel(training)
    outputs = []
    for t in range(num_steps):
      x_t = inputs[:, t]
      h_x = tf.concat([h, x_t], axis=-1)
      r = tf.sigmoid(self.conv_r.apply_kernel(h_x, k_r))
      u = tf.sigmoid(self.conv_u.apply_kernel(h_x, k_u))
      c = self._candidate_activation(self.conv_c.apply_kernel(tf.concat([x_t, r * h], axis=-1), k_c))
      h = u * h + (1.0 - u) * c
      outputs.append(h)
    return tf.stack(outputs, axis=1)

  def compute_output_shape(self, inputs_shape):
    return tuple(inputs_shape[:-1]) + (self.filters,)

  def get_config(self):
    config = super().get_config()
    config.update({"filters": self.filters, "kernel_size": self.kernel_size})
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ConvGRU(_ConvGRUBase):
  """Standard ConvGRU: tanh candidate. See the module docstring for the equations."""

  _candidate_activation = staticmethod(tf.tanh)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MultiplicativeConvGRU(_ConvGRUBase):
  """DVD-GAN's multiplicative ConvGRU: relu candidate. See the module docstring for the equations."""

  _candidate_activation = staticmethod(tf.nn.relu)
