"""dvd_gan.flops: the counter agrees with FLOPs computed by hand from the layer equations (2 per multiply-add).

Each count includes the spectral-norm power iteration of every weight (W as a matrix [n, m], u [1, m]):
the products u W^T and v W, 2nm each (sigma = <v W, u_new> is elementwise), i.e. 4nm per weight and pass.
"""
import tensorflow as tf

from dvd_gan import flops
from dvd_gan.layers import SelfAttention, SNConv2D, SNConv3D


def _power_iteration(n, m):
  return 4 * n * m


def _forward_backward(layer, spec):
  def fn(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = tf.reduce_sum(layer(x, training=True))
    return tape.gradient(y, [x] + layer.trainable_variables)
  return flops.count_flops(fn, spec)


def test_conv2d_forward_and_backward_match_hand_count():
  layer = SNConv2D(8, 3)
  layer.build((2, 16, 16, 4))
  conv = 2 * (2 * 16 * 16) * (3 * 3 * 4) * 8  # 2 * output positions * taps * Cin * Cout
  fwd = flops.count_flops(lambda x: layer(x, training=False), tf.TensorSpec([2, 16, 16, 4]))
  assert fwd.by_type["Conv2D"] == conv
  assert fwd.dense == conv + _power_iteration(36, 8)
  both = _forward_backward(layer, tf.TensorSpec([2, 16, 16, 4]))
  # backward: the input gradient and the filter gradient cost one forward conv each
  assert both.by_type["Conv2DBackpropInput"] == conv
  assert both.by_type["Conv2DBackpropFilter"] == conv


def test_strided_valid_conv2d_counts_output_positions():
  layer = SNConv2D(6, 3, strides=2, padding="valid", use_bias=False)
  layer.build((1, 9, 9, 2))
  fwd = flops.count_flops(lambda x: layer(x, training=False), tf.TensorSpec([1, 9, 9, 2]))
  assert fwd.by_type["Conv2D"] == 2 * (4 * 4) * (3 * 3 * 2) * 6


def test_conv3d_forward_and_backward_match_hand_count():
  layer = SNConv3D(8, 3)
  layer.build((1, 4, 8, 8, 4))
  conv = 2 * (1 * 4 * 8 * 8) * (3 * 3 * 3 * 4) * 8
  both = _forward_backward(layer, tf.TensorSpec([1, 4, 8, 8, 4]))
  assert both.by_type["Conv3D"] == conv
  assert both.by_type["Conv3DBackpropInputV2"] == conv  # TF's own profiler does not count these two
  assert both.by_type["Conv3DBackpropFilterV2"] == conv


def test_self_attention_matches_hand_count():
  b, t, h, w, c = 2, 2, 4, 4, 16
  n = t * h * w                       # attended positions (all of T x H x W)
  layer = SelfAttention(axes=(1, 2, 3))
  layer.build((b, t, h, w, c))
  count = flops.count_flops(lambda x: layer(x, training=False), tf.TensorSpec([b, t, h, w, c]))
  projections = 2 * b * n * (c * (c // 8) * 2 + c * (c // 2) + (c // 2) * c)  # theta, phi, g, o
  power = (2 * _power_iteration(c, c // 8) + _power_iteration(c, c // 2) + _power_iteration(c // 2, c))
  attention = 2 * b * n * n * (c // 8) + 2 * b * n * n * (c // 2)  # theta phi^T, then beta g
  assert count.by_type["MatMul"] == projections + power
  assert count.by_type["BatchMatMulV2"] == attention
  assert count.dense == projections + power + attention
  assert count.unknown_shapes == 0


def test_counts_inside_called_functions_and_counts_ops():
  inner = tf.function(lambda a, b: tf.matmul(a, b), autograph=False)
  count = flops.count_flops(lambda a, b: inner(a, b) + 1.0, tf.TensorSpec([3, 5]), tf.TensorSpec([5, 7]))
  assert count.dense == 2 * 3 * 7 * 5
  assert count.ops_by_type["MatMul"] == 1 and count.num_ops >= 2


def test_unknown_shapes_are_reported_not_guessed():
  count = flops.count_flops(lambda a, b: tf.matmul(a, b), tf.TensorSpec([None, 5]), tf.TensorSpec([5, 7]))
  assert count.dense == 0 and count.unknown_shapes == 1
