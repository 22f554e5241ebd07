"""The EMA update of stacked groups of same-shape variables equals the update of each pair as written."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.layers import SNDense
from dvd_gan.training import ema as ema_lib


def _model(seed):
  """Dense layers of equal shapes (stacked groups of kernels and biases), batch-norm moving statistics
  (averaged) and spectral-norm u vectors (copied)."""
  keras.utils.set_random_seed(seed)
  model = keras.Sequential([keras.Input((4,)), SNDense(4), SNDense(4), SNDense(4),
                            keras.layers.BatchNormalization(), SNDense(3)])
  rng = np.random.default_rng(seed)
  for v in model.weights:
    v.assign(rng.normal(size=v.shape).astype("float32"))
  return model


def _updated(min_stacked, steps, start_step):
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(ema_lib, "_MIN_STACKED", min_stacked)
    model, ema_model = _model(1), _model(2)
    ema = ema_lib.EMA(model, ema_model, decay=0.9, start_step=start_step)
  update = tf.function(ema.update)
  for step in steps:
    update(tf.constant(step, tf.int64))
  return [e.numpy() for e in ema_model.weights], len(ema._stacked)


@pytest.mark.parametrize("steps", [[5, 6], [1]], ids=["averaged", "before_start_copied"])
def test_stacked_ema_update_is_bit_equal_to_the_update_of_each_pair(steps):
  """Every G_ema variable after the stacked update equals, bit for bit, the update of each pair alone
  (decay * e + (1 - decay) * v; a copy before the start step; u copied)."""
  want, groups_want = _updated(10 ** 6, steps, start_step=3)
  got, groups = _updated(3, steps, start_step=3)
  assert groups_want == 0 and groups >= 2  # kernels [4, 4] and the [4] vectors are stacked
  for a, b in zip(want, got):
    np.testing.assert_array_equal(b, a)
