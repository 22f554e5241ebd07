"""Adam whose per-variable update is ONE fused kernel (`ResourceApplyAdam`) instead of ~20 small ops.

Keras 3's `Adam.update_step` builds, for every variable, the bias-correction powers, the step size and the
moment and weight updates out of separate elementwise ops (about 20 per variable, so ~2,800 ops per step for
the tiny demo's 140 variables). On a small model these ops, not the arithmetic, set the step time
(benchmarks/run_all.py, "training step"). TensorFlow's `ResourceApplyAdam` kernel performs exactly Keras's
update in one op:

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t),   t = iterations + 1
    m += (g - m) * (1 - beta_1);   v += (g^2 - v) * (1 - beta_2);   w -= m * alpha / (sqrt(v) + epsilon)

and the powers beta^t are computed once per `apply_gradients`, not once per variable. Same variables
(momentums, velocities, iterations), so checkpoints are interchangeable with `keras.optimizers.Adam`;
results are equal to it within float rounding (tests/dvd_gan/training/test_fused_adam.py). Variables that
are not plain resource variables (or amsgrad, or a non-TensorFlow backend) take Keras's own update.
"""
import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="dvd_gan")
class FusedAdam(keras.optimizers.Adam):
  """`keras.optimizers.Adam` with a fused per-variable update (see the module docstring)."""

  def _backend_update_step(self, grads, trainable_variables, learning_rate):
    local_step = tf.cast(tf.convert_to_tensor(self.iterations) + 1, tf.float32)
    self._fused_powers = (tf.pow(tf.cast(self.beta_1, tf.float32), local_step),
                          tf.pow(tf.cast(self.beta_2, tf.float32), local_step))
    self._fused_lr = tf.cast(learning_rate, tf.float32)  # read once, not once per variable
    try:
      super()._backend_update_step(grads, trainable_variables, learning_rate)
    finally:
      self._fused_powers = self._fused_lr = None

  def _all_reduce_sum_gradients(self, grads_and_vars):
    # One replica: the sum over replicas is each gradient itself, which Keras would copy with an identity op per
    # variable (~110 ops per step for the tiny demo).
    ctx = tf.distribute.get_replica_context()
    if ctx is not None and ctx.num_replicas_in_sync == 1:
      return list(grads_and_vars)
    return super()._all_reduce_sum_gradients(grads_and_vars)

  def update_step(self, gradient, variable, learning_rate):
    powers = getattr(self, "_fused_powers", None)
    handle = getattr(variable, "handle", None)
    if (powers is None or self.amsgrad or handle is None or variable.dtype != tf.float32
        or isinstance(gradient, tf.IndexedSlices)):
      return super().update_step(gradient, variable, learning_rate)
    i = self._get_variable_index(variable)
    m, v = self._momentums[i], self._velocities[i]
    m = m.value if isinstance(m, keras.Variable) else m
    v = v.value if isinstance(v, keras.Variable) else v
    f32 = lambda x: tf.cast(x, tf.float32)
    return tf.raw_ops.ResourceApplyAdam(
        var=handle, m=m.handle, v=v.handle, beta1_power=powers[0], beta2_power=powers[1],
        lr=self._fused_lr, beta1=f32(self.beta_1), beta2=f32(self.beta_2), epsilon=f32(self.epsilon),
        grad=tf.cast(gradient, tf.float32), use_locking=False)
