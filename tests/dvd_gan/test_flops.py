"""dvd_gan.flops: the counter agrees with FLOPs computed by hand from the layer equations (2 per multiply-add).

Each count includes the spectral-norm power iteration of every weight (W as a matrix [n, m], u [1, m]):
the products u W^T and v W, 2nm each (sigma = <v W, u_new> is elementwise), i.e. 4nm per weight and pass.
"""
import pytest
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


def test_an_xla_compiled_call_is_one_op_with_its_flops_counted():
  """The executor runs a `jit_compile` function as one op: it adds 1 to num_ops and to compiled_calls, and its
  FLOPs as a plain function's do."""
  body = lambda a, b: tf.nn.relu(tf.matmul(a, b)) * 2.0
  specs = (tf.TensorSpec([3, 5]), tf.TensorSpec([5, 7]))
  plain = flops.count_flops(lambda a, b: tf.function(body, autograph=False)(a, b), *specs)
  compiled = flops.count_flops(lambda a, b: tf.function(body, jit_compile=True, autograph=False)(a, b), *specs)
  assert compiled.dense == plain.dense == 2 * 3 * 7 * 5
  assert compiled.compiled_calls == 1 and plain.compiled_calls == 0
  inside = flops.count_flops(body, *specs).num_ops  # MatMul, Relu, Mul (and the output's Identity)
  assert inside >= 3 and compiled.num_ops == plain.num_ops - inside
  assert compiled.ops_by_type["MatMul"] == 0


def test_unknown_shapes_are_reported_not_guessed():
  count = flops.count_flops(lambda a, b: tf.matmul(a, b), tf.TensorSpec([None, 5]), tf.TensorSpec([5, 7]))
  assert count.dense == 0 and count.unknown_shapes == 1


# ---- per call: repeated calls, loops, conds ----------------------------------------------------------------

def _matmul_flops(m, k, n):
  return 2 * m * k * n


def test_a_function_called_twice_counts_twice():
  """Two calls of one traced tf.function (one FuncGraph, two call ops) count its FLOPs and ops twice."""
  inner = tf.function(lambda a, b: tf.matmul(a, b), autograph=False)
  count = flops.count_flops(lambda a, b: inner(a, b) + inner(a, b), tf.TensorSpec([3, 5]), tf.TensorSpec([5, 7]))
  assert count.dense == 2 * _matmul_flops(3, 5, 7)
  assert count.ops_by_type["MatMul"] == 2
  assert not count.lower_bound


@pytest.mark.parametrize("cond, trips", [
    (lambda i, x: i < 5, 5),
    (lambda i, x: i <= 5, 6),
    (lambda i, x: tf.constant(5) > i, 5),
])
def test_a_static_while_loop_counts_its_body_times_its_trip_count(cond, trips):
  """A counter from a constant (0), stepped by a constant (1), compared with a constant: the body's matmul
  counts `trips` times, and the figure is exact (not a lower bound)."""
  def fn(x, w):
    _, y = tf.while_loop(cond, lambda i, x: (i + 1, tf.matmul(x, w)), [tf.constant(0), x])
    return y
  count = flops.count_flops(fn, tf.TensorSpec([4, 4]), tf.TensorSpec([4, 4]))
  assert count.dense == trips * _matmul_flops(4, 4, 4)
  assert count.ops_by_type["MatMul"] == trips
  assert count.dynamic_loops == 0 and not count.lower_bound


def test_a_loop_bounded_by_maximum_iterations_counts_that_many():
  """`tf.while_loop(..., maximum_iterations=3)` with an always-true condition iterates 3 times."""
  def fn(x, w):
    return tf.while_loop(lambda x: True, lambda x: [tf.matmul(x, w)], [x], maximum_iterations=3)[0]
  count = flops.count_flops(fn, tf.TensorSpec([4, 4]), tf.TensorSpec([4, 4]))
  assert count.dense == 3 * _matmul_flops(4, 4, 4) and not count.lower_bound


def test_a_dynamic_while_loop_is_counted_once_and_marked_as_a_lower_bound():
  """The trip count is an argument (unknown when traced): the body counts once and the figure says it is a
  lower bound (`lower_bound`, `dynamic_loops`, and in `summary()`)."""
  def fn(x, w, n):
    _, y = tf.while_loop(lambda i, x: i < n, lambda i, x: (i + 1, tf.matmul(x, w)), [tf.constant(0), x])
    return y
  count = flops.count_flops(fn, tf.TensorSpec([4, 4]), tf.TensorSpec([4, 4]), tf.TensorSpec([], tf.int32))
  assert count.dense == _matmul_flops(4, 4, 4)
  assert count.dynamic_loops == 1 and count.lower_bound
  assert count.summary()["lower_bound"] is True


def test_a_cond_counts_its_larger_branch_only():
  """tf.cond with a [2, 64] x [64, 64] branch and a [2, 64] x [64, 8] one counts the first alone (one of
  them runs, and the larger one bounds it)."""
  def fn(x, big, small, p):
    return tf.cond(p, lambda: tf.reduce_sum(tf.matmul(x, big)), lambda: tf.reduce_sum(tf.matmul(x, small)))
  count = flops.count_flops(fn, tf.TensorSpec([2, 64]), tf.TensorSpec([64, 64]), tf.TensorSpec([64, 8]),
                            tf.TensorSpec([], tf.bool))
  assert count.dense == _matmul_flops(2, 64, 64)
  assert count.ops_by_type["MatMul"] == 1
