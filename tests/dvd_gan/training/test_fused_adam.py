"""FusedAdam (one ResourceApplyAdam per variable) gives Keras Adam's weights and moments after several steps,
eagerly and inside tf.function, and builds far fewer ops."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import flops
from dvd_gan.training.fused_adam import FusedAdam


def _run(opt_cls, steps, compiled, beta_1=0.0):
  rng = np.random.default_rng(0)
  variables = [tf.Variable(rng.normal(size=s).astype("float32")) for s in ((3, 4), (5,), (2, 2, 3))]
  grads_seq = [[tf.constant(rng.normal(size=v.shape).astype("float32")) for v in variables]
               for _ in range(steps)]
  opt = opt_cls(learning_rate=1e-2, beta_1=beta_1, beta_2=0.99)
  opt.build(variables)
  apply = (tf.function(lambda g: opt.apply_gradients(zip(g, variables))) if compiled
           else (lambda g: opt.apply_gradients(zip(g, variables))))
  for grads in grads_seq:
    apply(grads)
  state = [v.numpy() for v in variables] + [np.asarray(v) for v in opt.variables]
  return state, apply


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("beta_1", [0.0, 0.9])
def test_fused_adam_equals_keras_adam(compiled, beta_1):
  want, _ = _run(keras.optimizers.Adam, 4, compiled, beta_1)
  got, _ = _run(FusedAdam, 4, compiled, beta_1)
  assert len(want) == len(got)
  for a, b in zip(want, got):
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)


def test_fused_adam_builds_fewer_ops():
  def ops_of(opt_cls):
    variables = [tf.Variable(tf.ones([4, 4])) for _ in range(10)]
    opt = opt_cls(learning_rate=1e-3)
    opt.build(variables)
    return flops.count_flops(lambda g: opt.apply_gradients(zip([g] * 10, variables)),
                             tf.TensorSpec([4, 4])).num_ops
  keras_ops, fused_ops = ops_of(keras.optimizers.Adam), ops_of(FusedAdam)
  assert fused_ops * 3 < keras_ops, (fused_ops, keras_ops)


def test_fused_adam_equals_keras_adam_on_two_replicas(mirrored_strategy):
  """Under MirroredStrategy (the update runs per device component, gradients all-reduced)."""
  strategy = mirrored_strategy()
  grads = tf.constant(np.arange(24, dtype="float32").reshape(2, 3, 4) / 7.0 - 1.0)  # replica r gets grads[r]

  def run(opt_cls):
    with strategy.scope():
      var = tf.Variable(tf.ones([3, 4]))
      opt = opt_cls(learning_rate=1e-2, beta_1=0.5, beta_2=0.99)
      opt.build([var])

    @tf.function
    def step():
      def replica_fn():
        rid = tf.distribute.get_replica_context().replica_id_in_sync_group
        opt.apply_gradients([(tf.gather(grads, rid), var)])
      strategy.run(replica_fn)
    for _ in range(3):
      step()
    return [v.numpy() for v in var.values] + [np.asarray(v) for v in opt.variables]

  want, got = run(keras.optimizers.Adam), run(FusedAdam)
  for a, b in zip(want, got):
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(got[0], got[1])  # both replicas hold the same weights
