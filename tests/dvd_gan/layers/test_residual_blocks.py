"""GBlock (BigGAN-deep, videos), DBlock and DBlock3D: shapes, gradient flow, per-frame independence."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.layers import DBlock, DBlock3D, GBlock



def _video(shape, seed=0):
  return np.random.RandomState(seed).randn(*shape).astype("float32")


@pytest.mark.parametrize("t,h,w", [(1, 2, 2), (3, 4, 3), (2, 3, 5)])
def test_output_shapes(t, h, w):
  """GBlock doubles H, W (or keeps them), DBlock halves H, W, DBlock3D halves H, W and T iff asked."""
  x = _video((2, t, h, w, 8))
  cond = _video((2, 3), 1)
  assert GBlock(4)(x, cond, training=True).shape == (2, t, 2 * h, 2 * w, 4)
  assert GBlock(12, upsample=False)(x, cond, training=True).shape == (2, t, h, w, 12)
  assert DBlock(6)(x[:, 0], training=True).shape == (2, h // 2, w // 2, 6)
  assert DBlock(6, downsample=False, preactivation=False)(x[:, 0]).shape == (2, h, w, 6)
  assert DBlock3D(6)(x, training=True).shape == (2, t, h // 2, w // 2, 6)
  if t >= 2:
    assert DBlock3D(6, downsample_time=True)(x).shape == (2, t // 2, h // 2, w // 2, 6)


def _assert_all_gradients(layer, loss_fn):
  with tf.GradientTape() as tape:
    loss = loss_fn()
  grads = tape.gradient(loss, layer.trainable_weights)
  assert layer.trainable_weights
  for var, grad in zip(layer.trainable_weights, grads):
    assert grad is not None, var.path
    assert np.abs(tf.convert_to_tensor(grad).numpy()).max() > 0, var.path


@pytest.mark.parametrize("out_channels,upsample", [(4, True), (12, False)], ids=["drop", "grow"])
def test_gblock_gradients_reach_every_weight(out_channels, upsample):
  """Every trainable weight of GBlock (convs, conditional-BN linears, skip conv) gets a non-zero gradient."""
  x = tf.constant(_video((2, 2, 2, 2, 8)))
  cond = tf.constant(_video((2, 3), 1))
  r = tf.constant(_video((2, 2, 4 if upsample else 2, 4 if upsample else 2, out_channels), 2))
  layer = GBlock(out_channels, upsample=upsample)
  layer(x, cond)
  _assert_all_gradients(layer, lambda: tf.reduce_sum(layer(x, cond, training=True) * r))
  n_expected = 4 * 2 + 4 * 2 + (1 * 2 if out_channels > 8 else 0)  # 4 convs, 4 CBN x (gamma, beta), skip
  assert len(layer.trainable_weights) == n_expected


@pytest.mark.parametrize("cls,shape", [(DBlock, (2, 4, 4, 3)), (DBlock3D, (2, 2, 4, 4, 3))],
                         ids=["2d", "3d"])
@pytest.mark.parametrize("preactivation", [True, False])
def test_dblock_gradients_reach_every_weight(cls, shape, preactivation):
  """Every trainable weight of DBlock / DBlock3D (two 3x3 convs, the 1x1 skip conv) gets a gradient."""
  x = tf.constant(_video(shape))
  layer = cls(5, preactivation=preactivation)
  y = layer(x)
  r = tf.constant(_video(y.shape, 1))
  _assert_all_gradients(layer, lambda: tf.reduce_sum(layer(x, training=True) * r))
  assert len(layer.trainable_weights) == 6


def test_gblock_frames_are_independent():
  """Pitfalls (docs/paper.md): BN statistics pooled over time, and conditioning repeated in the wrong order when
  time is folded into the batch. In training mode, changing frame t of one video changes only frame t of
  the GBlock output (per-frame convs, per-time-step BN); in inference (no batch statistics coupling videos), changing video b's cond
  changes only video b (cond is never applied to another video's frames)."""
  keras.utils.set_random_seed(5)  # fixed initial weights: the property is checked on one known draw
  x = _video((3, 3, 2, 2, 8))
  cond = _video((3, 4), 1)
  layer = GBlock(4)
  y = layer(x, cond, training=True).numpy()
  x2 = x.copy()
  x2[0, 1] += _video((2, 2, 8), 2)
  y2 = layer(x2, cond, training=True).numpy()
  np.testing.assert_allclose(y2[:, [0, 2]], y[:, [0, 2]], rtol=1e-5, atol=1e-5)
  assert np.abs(y2[:, 1] - y[:, 1]).max() > 1e-3
  cond2 = cond.copy()
  cond2[1] += 1.0
  y = layer(x, cond, training=False).numpy()
  y3 = layer(x, cond2, training=False).numpy()
  np.testing.assert_allclose(y3[[0, 2]], y[[0, 2]], rtol=1e-5, atol=1e-5)
  assert np.abs(y3[1] - y[1]).max() > 1e-3


def test_dblock3d_mixes_time_and_dblock_does_not_mix_frames():
  """DBlock3D's 3x3x3 convs let frame t reach frames t +- 1; DBlock on folded frames keeps them apart."""
  x = _video((1, 3, 4, 4, 2))
  x2 = x.copy()
  x2[0, 1] += 1.0
  layer3d = DBlock3D(3, downsample=False)
  diff = np.abs(layer3d(x2).numpy() - layer3d(x).numpy()).sum(axis=(2, 3, 4))
  assert (diff[0] > 0).all()
  layer2d = DBlock(3, downsample=False)
  diff = np.abs(layer2d(x2[0]).numpy() - layer2d(x[0]).numpy()).sum(axis=(1, 2, 3))
  assert diff[1] > 0 and diff[0] == 0 and diff[2] == 0


def test_gblock_rejects_frames_input():
  """GBlock on a 4-D tensor is a one-line ValueError naming the expected shape."""
  with pytest.raises(ValueError, match=r"\[B, T, H, W, C\]"):
    GBlock(4)(np.zeros((2, 4, 4, 8), "float32"), np.zeros((2, 3), "float32"))


def test_full_size_block_builds():
  """A paper-width GBlock (16ch -> 8ch at ch=128: 2048 -> 1024 channels) builds with the expected weights
  (built only, never run)."""
  layer = GBlock(1024)
  layer.build((None, 12, 4, 4, 2048), (None, 240))
  assert layer.conv1.kernel.shape == (1, 1, 2048, 512)
  assert layer.conv4.kernel.shape == (1, 1, 512, 1024)
  assert layer.bn1.gamma.kernel.shape == (240, 2048)


def test_gblock_on_two_replicas_matches_one_replica(two_replicas):
  """Under a 2-replica MirroredStrategy a GBlock training step (cross-replica BN in every CBN, u updates in
  replica context) gives the same output, moving statistics and u as the whole batch on one replica."""
  x = _video((4, 2, 2, 2, 8))
  x[2:] += 2.0
  cond = _video((4, 3), 1)
  strategy = two_replicas.strategy
  with strategy.scope():
    layer = GBlock(4, bn_momentum=0.5)
    layer.build(x.shape, cond.shape)
  single = GBlock(4, bn_momentum=0.5)
  single.build(x.shape, cond.shape)
  single.set_weights(layer.get_weights())

  @tf.function
  def step(xs, cs):
    return strategy.run(lambda a, c: layer(a, c, training=True), args=(xs, cs))

  out = step(two_replicas.split(x), two_replicas.split(cond))
  y = np.concatenate([t.numpy() for t in strategy.experimental_local_results(out)])
  np.testing.assert_allclose(y, single(x, cond, training=True).numpy(), rtol=1e-4, atol=1e-4)
  for var_dist, var_single in zip(layer.weights, single.weights):
    for replica_value in var_dist.value.values:
      np.testing.assert_allclose(replica_value.numpy(), var_single.numpy(), rtol=1e-5, atol=1e-5,
                                 err_msg=var_dist.path)
