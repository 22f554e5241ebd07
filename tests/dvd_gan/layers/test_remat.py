"""layers.remat: a rematerialised block gives the same output, the same gradients (input, weights) and the
same state updates (spectral-norm u, batch-norm moving statistics: once, from the forward pass's u) as the
plain block; the tape keeps fewer tensors alive is what tf.recompute_grad does (measured in run_all.py)."""
import numpy as np
import tensorflow as tf

from dvd_gan.layers import BigGANDeepGBlock, DBlock, remat


def _clone_state(src, dst):
  """dst <- src, after making src's weights Gaussian: with orthogonal kernels every singular value is 1, u is a
  fixed point of the power iteration and a second (wrong) iteration would go unnoticed."""
  rng = np.random.RandomState(9)
  for v in src.trainable_weights:
    v.assign(rng.normal(size=v.shape).astype("float32"))
  for a, b in zip(src.weights, dst.weights):
    b.assign(a)


def _step(layer, args, use_remat):
  def fn(*xs):
    return layer(*xs, training=True)
  with tf.GradientTape() as tape:
    tape.watch(args)
    out = (remat(fn) if use_remat else fn)(*args)
    loss = tf.reduce_sum(out * tf.cos(out))
  grads = tape.gradient(loss, list(args) + layer.trainable_variables)
  return out, grads, [v.numpy().copy() for v in layer.weights]


def _check(make, args):
  a, b = make(), make()
  a(*args, training=False)
  b(*args, training=False)
  _clone_state(a, b)
  out_a, grads_a, state_a = _step(a, args, use_remat=False)
  out_b, grads_b, state_b = _step(b, args, use_remat=True)
  np.testing.assert_allclose(out_b.numpy(), out_a.numpy(), rtol=1e-5, atol=1e-6)
  assert len(grads_a) == len(grads_b)
  for ga, gb in zip(grads_a, grads_b):
    np.testing.assert_allclose(gb.numpy(), ga.numpy(), rtol=1e-4, atol=1e-6)
  names = [v.path for v in a.weights]
  changed = 0
  for name, sa, sb in zip(names, state_a, state_b):
    np.testing.assert_allclose(sb, sa, rtol=1e-6, atol=1e-7, err_msg=name)
  for v, s0 in zip(a.weights, state_a):
    changed += int(v.path.endswith("/u") or "moving" in v.path)
  assert changed > 0


def test_remat_gblock_equals_plain_block_eager_and_compiled():
  rng = np.random.RandomState(0)
  x = tf.constant(rng.randn(2, 3, 4, 4, 8).astype("float32"))
  cond = tf.constant(rng.randn(2, 6).astype("float32"))
  _check(lambda: BigGANDeepGBlock(4, upsample=True, bn_momentum=0.5), (x, cond))


def test_remat_dblock_equals_plain_block():
  rng = np.random.RandomState(1)
  x = tf.constant(rng.randn(3, 8, 8, 4).astype("float32"))
  _check(lambda: DBlock(8, downsample=True), (x,))


def test_remat_in_tf_function_updates_u_once():
  """In a traced step the block's u moves by exactly one power iteration (not two)."""
  rng = np.random.RandomState(2)
  x = tf.constant(rng.randn(2, 8, 8, 4).astype("float32"))
  plain, rematted = DBlock(8), DBlock(8)
  plain(x, training=False)
  rematted(x, training=False)
  _clone_state(plain, rematted)

  def make_step(layer, use_remat):
    @tf.function
    def step():
      with tf.GradientTape() as tape:
        fn = lambda h: layer(h, training=True)
        loss = tf.reduce_sum((remat(fn) if use_remat else fn)(x) ** 2)
      return tape.gradient(loss, layer.trainable_variables)
    return step

  ga, gb = make_step(plain, False)(), make_step(rematted, True)()
  for a, b in zip(ga, gb):
    np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-6)
  for a, b in zip(plain.weights, rematted.weights):
    np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7, err_msg=a.path)
