"""Shape helpers (dvd_gan/layers/util.py): the one-broadcast repeats equal tf.repeat exactly."""
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.layers import util


@pytest.mark.parametrize("repeats", [{0: 3}, {1: 2}, {2: 2, 3: 2}, {-1: 2}, {0: 2, 4: 3}])
def test_repeat_elements_equals_tf_repeat_along_each_axis(repeats):
  x = tf.constant(np.random.RandomState(0).randn(2, 3, 4, 5, 6).astype("float32"))
  want = x
  for axis, times in repeats.items():
    want = tf.repeat(want, times, axis=axis)
  np.testing.assert_array_equal(util.repeat_elements(x, repeats).numpy(), want.numpy())


def test_repeat_elements_with_an_unknown_batch_size_and_its_gradient():
  """Inside a function traced for any batch size, the same values; the gradient sums the copies (as tf.repeat's,
  in another order)."""
  f = tf.function(lambda x: util.upsample_nearest_2x(x, axes=(1, 2)),
                  input_signature=[tf.TensorSpec([None, 3, 4, 2], tf.float32)])
  x = tf.constant(np.random.RandomState(1).randn(2, 3, 4, 2).astype("float32"))
  np.testing.assert_array_equal(f(x).numpy(), tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2).numpy())
  r = tf.constant(np.random.RandomState(2).randn(2, 6, 8, 2).astype("float32"))
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(x)
    got = tf.reduce_sum(util.upsample_nearest_2x(x, axes=(1, 2)) * r)
    want = tf.reduce_sum(tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2) * r)
  np.testing.assert_allclose(tape.gradient(got, x).numpy(), tape.gradient(want, x).numpy(), rtol=1e-5, atol=1e-6)


def test_repeat_per_frame_follows_fold_time_order():
  cond = tf.constant([[1.0], [2.0]])
  np.testing.assert_array_equal(util.repeat_per_frame(cond, 3).numpy().ravel(), [1, 1, 1, 2, 2, 2])
