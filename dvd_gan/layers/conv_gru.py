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

How it is evaluated (the same equations, fewer and larger convolutions): a convolution of a channel
concatenation is the sum of the convolutions of its parts, W * [h; x] = W^h * h + W^x * x, so
  * the input parts W_r^x * x_t, W_u^x * x_t, W_c^x * x_t (+ biases) of all T steps are one convolution of
    the [B*T, H, W, Cin] input with the three kernels' input slices side by side, before the loop;
  * in the loop, r and u share one convolution of h (W_r^h and W_u^h side by side), and c one of r . h;
  * with a zero initial state, the first step's state convolutions are zero and are skipped.
tests/dvd_gan/layers/test_conv_gru.py checks every state against the equations as written (numpy), and
tests/dvd_gan/training/test_step_optimisations.py a whole training step, gradients and updates included.
"""
import keras
import tensorflow as tf

from dvd_gan.layers.spectral_norm import SNConv2D
from dvd_gan.layers.util import fold_time, unfold_time

_PACKAGE = "dvd_gan"


def _conv(x, kernel):
  return tf.nn.conv2d(x, kernel, strides=1, padding="SAME")


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
    h = None                                      # the zero state: see the first step below
    if initial_state is not None:
      h = tf.cast(initial_state, inputs.dtype)
      if h.shape.rank != 4 or h.shape[-1] != self.filters:
        raise ValueError(
            f"{self.name}: initial_state must be [B, H, W, {self.filters}], got shape {h.shape}")
    f, c_in = self.filters, inputs.shape[-1]
    k_r = self.conv_r.spectral_kernel(training)   # [k, k, F + Cin, F], input channels [h; x]
    k_u = self.conv_u.spectral_kernel(training)   # [k, k, F + Cin, F], input channels [h; x]
    k_c = self.conv_c.spectral_kernel(training)   # [k, k, Cin + F, F], input channels [x; r . h]
    k_x = tf.concat([k_r[:, :, f:], k_u[:, :, f:], k_c[:, :, :c_in]], axis=-1)     # [k, k, Cin, 3F]
    k_ru_h = tf.concat([k_r[:, :, :f], k_u[:, :, :f]], axis=-1)                    # [k, k, F, 2F]
    k_c_h = k_c[:, :, c_in:]                                                      # [k, k, F, F]
    bias = tf.concat([self.conv_r.bias, self.conv_u.bias, self.conv_c.bias], axis=0)   # (the convs have biases)
    frames, b, t = fold_time(inputs)
    gates_x = unfold_time(_conv(frames, k_x) + tf.cast(bias, frames.dtype), b, t)  # [B, T, H, W, 3F]
    outputs = []
    # (unstack and split, not slices: their gradients are one stack / concat, not one padded copy each)
    for g in tf.unstack(gates_x, num=num_steps, axis=1):
      g_ru, g_c = tf.split(g, [2 * f, f], axis=-1)
      if h is None:                              # h = 0: its convolutions are zero
        u = tf.sigmoid(tf.split(g_ru, 2, axis=-1)[1])
        h = (1.0 - u) * self._candidate_activation(g_c)
      else:
        r, u = tf.split(tf.sigmoid(_conv(h, k_ru_h) + g_ru), 2, axis=-1)
        c = self._candidate_activation(_conv(r * h, k_c_h) + g_c)
        h = c + u * (h - c)                      # = u . h + (1 - u) . c
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
