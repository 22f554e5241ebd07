"""G blocks (BigGAN and BigGAN-deep, on videos), DBlock and DBlock3D: shapes, gradient flow, per-frame
independence; the BigGAN G block against a slow reference written from its description."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.layers import BigGANDeepGBlock, BigGANGBlock, DBlock, DBlock3D

G_BLOCKS = pytest.mark.parametrize("block_cls", [BigGANGBlock, BigGANDeepGBlock], ids=["biggan", "deep"])


def _video(shape, seed=0):
  return np.random.RandomState(seed).randn(*shape).astype("float32")


@pytest.mark.parametrize("t,h,w", [(1, 2, 2), (3, 4, 3), (2, 3, 5)])
def test_output_shapes(t, h, w):
  """G blocks double H, W (or keep them), DBlock halves H, W, DBlock3D halves H, W and T iff asked."""
  x = _video((2, t, h, w, 8))
  cond = _video((2, 3), 1)
  for cls in (BigGANGBlock, BigGANDeepGBlock):
    assert cls(4)(x, cond, training=True).shape == (2, t, 2 * h, 2 * w, 4)
    assert cls(12, upsample=False)(x, cond, training=True).shape == (2, t, h, w, 12)
  assert DBlock(6)(x[:, 0], training=True).shape == (2, h // 2, w // 2, 6)
  assert DBlock(6, downsample=False, preactivation=False)(x[:, 0]).shape == (2, h, w, 6)
  assert DBlock3D(6)(x, training=True).shape == (2, t, h // 2, w // 2, 6)
  if t >= 2:
    assert DBlock3D(6, downsample_time=True)(x).shape == (2, t // 2, h // 2, w // 2, 6)


def _gradients(layer, loss_fn, training):
  with tf.GradientTape() as tape:
    loss = loss_fn(training)
  grads = tape.gradient(loss, layer.trainable_weights)
  return {var.path.split("/", 1)[1]: None if g is None else np.abs(tf.convert_to_tensor(g).numpy()).max()
          for var, g in zip(layer.trainable_weights, grads)}


def _assert_all_gradients(layer, loss_fn, before_bn=()):
  """Every trainable weight gets a non-zero gradient of `loss_fn(training)`. The biases of the convs in
  `before_bn` feed a batch norm directly: in training mode it subtracts the batch mean, which removes a
  constant bias exactly, so their gradient is zero there (up to rounding: asserted); they are checked in
  inference mode, where the batch norm uses its moving statistics."""
  assert layer.trainable_weights
  train = _gradients(layer, loss_fn, training=True)
  largest = max(v for v in train.values() if v is not None)
  for name, g in train.items():
    assert g is not None, name
    if name.split("/")[0] in before_bn and name.endswith("bias"):
      assert g <= 1e-4 * largest, (name, g, largest)
    else:
      assert g > 0, name
  if before_bn:
    infer = _gradients(layer, loss_fn, training=False)
    for conv in before_bn:
      assert infer[f"{conv}/bias"] > 0, conv


def _block_inputs(out_channels, upsample):
  """x [2, 2, 2, 2, 8], cond [2, 3], and a random readout r of the block's output. So few pixels that, with
  unlucky random weights, every ReLU after a batch norm in inference mode can be off (a zero bias gradient
  with nothing wrong): the gradient tests seed the weights."""
  x = tf.constant(_video((2, 2, 2, 2, 8)))
  cond = tf.constant(_video((2, 3), 1))
  r = tf.constant(_video((2, 2, 4 if upsample else 2, 4 if upsample else 2, out_channels), 2))
  return x, cond, r


@pytest.mark.parametrize("out_channels,upsample", [(4, True), (12, False), (8, False)],
                         ids=["drop-up", "grow", "same"])
def test_biggan_deep_gblock_gradients_reach_every_weight(out_channels, upsample):
  """Every trainable weight of the BigGAN-deep block (convs, conditional-BN linears, skip conv) gets a
  non-zero gradient (the biases of conv1-3, which feed a batch norm, in inference mode)."""
  keras.utils.set_random_seed(0)  # weights whose ReLUs are not all dead on these 16 pixels (see _block_inputs)
  x, cond, r = _block_inputs(out_channels, upsample)
  layer = BigGANDeepGBlock(out_channels, upsample=upsample)
  layer(x, cond)
  _assert_all_gradients(layer, lambda training: tf.reduce_sum(layer(x, cond, training=training) * r),
                        before_bn=("conv1", "conv2", "conv3"))
  n_expected = 4 * 2 + 4 * 2 + (1 * 2 if out_channels > 8 else 0)  # 4 convs, 4 CBN x (gamma, beta), skip
  assert len(layer.trainable_weights) == n_expected


@pytest.mark.parametrize("out_channels,upsample", [(4, True), (12, False), (8, False)],
                         ids=["drop-up", "grow", "same"])
def test_biggan_gblock_gradients_reach_every_weight(out_channels, upsample):
  """Every trainable weight of the BigGAN block gets a non-zero gradient: both 3x3 convs (kernel, bias; conv1's
  bias, which feeds bn2, in inference mode), the gamma and beta linear maps of both conditional BNs, and the
  1x1 skip conv, which exists exactly when the width or the size changes."""
  keras.utils.set_random_seed(0)  # weights whose ReLUs are not all dead on these 16 pixels (see _block_inputs)
  x, cond, r = _block_inputs(out_channels, upsample)
  layer = BigGANGBlock(out_channels, upsample=upsample)
  layer(x, cond)
  _assert_all_gradients(layer, lambda training: tf.reduce_sum(layer(x, cond, training=training) * r),
                        before_bn=("conv1",))
  has_skip = out_channels != 8 or upsample
  assert (layer.conv_sc is not None) == has_skip
  names = sorted(w.path.split("/", 1)[1] for w in layer.trainable_weights)
  expected = ["bn1/beta/kernel", "bn1/gamma/kernel", "bn2/beta/kernel", "bn2/gamma/kernel",
              "conv1/bias", "conv1/kernel", "conv2/bias", "conv2/kernel"]
  assert names == sorted(expected + (["conv_sc/bias", "conv_sc/kernel"] if has_skip else []))
  assert layer.conv1.kernel.shape == (3, 3, 8, out_channels)
  assert layer.conv2.kernel.shape == (3, 3, out_channels, out_channels)


# ---- the BigGAN block against a slow reference ------------------------------------------------------------

def _reference_cbn(x, cond, bn, training):
  """Class-conditional BN written out: per-time-step moments over B, H, W of every frame (training) or the
  layer's moving statistics (inference), then x_hat * (1 + cond @ Wg) + cond @ Wb with the spectrally
  normalised linear maps."""
  if training:
    mean = tf.reduce_mean(x, axis=[0, 2, 3], keepdims=True)
    var = tf.reduce_mean(tf.square(x - mean), axis=[0, 2, 3], keepdims=True)
  else:
    mean = bn.moving_mean.numpy()[None, :, None, None, :]
    var = bn.moving_variance.numpy()[None, :, None, None, :]
  x_hat = (x - mean) / tf.sqrt(var + bn.epsilon)
  gamma = tf.matmul(cond, bn.gamma.normalized_kernel())
  beta = tf.matmul(cond, bn.beta.normalized_kernel())
  return x_hat * (1.0 + gamma[:, None, None, None, :]) + beta[:, None, None, None, :]


def _reference_conv(x, conv):
  """The SN conv applied frame by frame (a Python loop over t; 'SAME' padding, bias added)."""
  kernel = conv.normalized_kernel()
  frames = [tf.nn.conv2d(x[:, t], kernel, strides=1, padding="SAME") + conv.bias for t in range(x.shape[1])]
  return tf.stack(frames, axis=1)


def _reference_upsample(x):
  """Nearest 2x: output pixel (i, j) is input pixel (i // 2, j // 2)."""
  h, w = x.shape[2], x.shape[3]
  rows = tf.gather(x, [i // 2 for i in range(2 * h)], axis=2)
  return tf.gather(rows, [j // 2 for j in range(2 * w)], axis=3)


def _reference_biggan_block(layer, x, cond, training):
  """BigGAN's G block as docs/paper.md describes it: CBN, ReLU, [upsample], 3x3 conv to the output width,
  CBN, ReLU, 3x3 conv; skip: [upsample], then a 1x1 conv if the width or the size changes."""
  h = tf.nn.relu(_reference_cbn(x, cond, layer.bn1, training))
  if layer.upsample:
    h = _reference_upsample(h)
  h = _reference_conv(h, layer.conv1)
  h = tf.nn.relu(_reference_cbn(h, cond, layer.bn2, training))
  h = _reference_conv(h, layer.conv2)
  skip = _reference_upsample(x) if layer.upsample else x
  if x.shape[-1] != layer.out_channels or layer.upsample:
    skip = _reference_conv(skip, layer.conv_sc)
  return h + skip


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("out_channels,upsample", [(6, True), (6, False), (4, True), (4, False)],
                         ids=["wider-up", "wider", "same-up", "same"])
def test_biggan_gblock_matches_slow_reference(out_channels, upsample, training):
  """The BigGAN block equals the reference written from its description (plain TF ops, the layer's own
  weights: SN kernels W / sigma from the stored u, the biases, the CBN linear maps) to float tolerance, with
  and without upsampling, with and without a width change (Cin = 4), in training mode (batch statistics per
  time step) and inference (moving statistics, moved away from 0 / 1 first)."""
  keras.utils.set_random_seed(3)
  x = tf.constant(_video((3, 2, 3, 4, 4)) * 2.0 + 0.5)
  cond = tf.constant(_video((3, 5), 1))
  layer = BigGANGBlock(out_channels, upsample=upsample, bn_momentum=0.5)
  layer.build(x.shape, cond.shape)
  rng = np.random.RandomState(4)
  for w in layer.weights:  # non-zero biases, moving statistics away from 0 / 1
    if "bias" in w.path or "moving_mean" in w.path:
      w.assign(rng.randn(*w.shape).astype("float32") * 0.3)
    if "moving_variance" in w.path:
      w.assign(rng.uniform(0.5, 2.0, w.shape).astype("float32"))
  expected = _reference_biggan_block(layer, x, cond, training).numpy()  # before the call moves u
  got = layer(x, cond, training=training).numpy()
  assert got.shape == expected.shape == (3, 2, 3 * (1 + upsample), 4 * (1 + upsample), out_channels)
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
  assert np.abs(expected).mean() > 0.1


@pytest.mark.parametrize("cls,shape", [(DBlock, (2, 4, 4, 3)), (DBlock3D, (2, 2, 4, 4, 3))],
                         ids=["2d", "3d"])
@pytest.mark.parametrize("preactivation", [True, False])
def test_dblock_gradients_reach_every_weight(cls, shape, preactivation):
  """Every trainable weight of DBlock / DBlock3D (two 3x3 convs, the 1x1 skip conv) gets a gradient."""
  x = tf.constant(_video(shape))
  layer = cls(5, preactivation=preactivation)
  y = layer(x)
  r = tf.constant(_video(y.shape, 1))
  _assert_all_gradients(layer, lambda training: tf.reduce_sum(layer(x, training=training) * r))
  assert len(layer.trainable_weights) == 6


@G_BLOCKS
def test_gblock_frames_are_independent(block_cls):
  """Pitfalls (docs/paper.md): BN statistics pooled over time, and conditioning repeated in the wrong order
  when time is folded into the batch. In training mode, changing frame t of one video changes only frame t
  of the block's output (per-frame convs, per-time-step BN); in inference (no batch statistics coupling
  videos), changing video b's cond changes only video b (cond is never applied to another video's frames)."""
  keras.utils.set_random_seed(5)  # fixed initial weights: the property is checked on one known draw
  x = _video((3, 3, 2, 2, 8))
  cond = _video((3, 4), 1)
  layer = block_cls(4)
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


@G_BLOCKS
def test_gblock_rejects_frames_input(block_cls):
  """A G block on a 4-D tensor is a one-line ValueError naming the expected shape."""
  with pytest.raises(ValueError, match=r"\[B, T, H, W, C\]"):
    block_cls(4)(np.zeros((2, 4, 4, 8), "float32"), np.zeros((2, 3), "float32"))


def test_full_size_blocks_build():
  """Paper-width G blocks (1024 -> 512 channels, cond 240) build with the expected weights (built only,
  never run): BigGAN's block has both 3x3 convs at the output width and a 1x1 skip conv; BigGAN-deep's
  reduces to a quarter of the input width."""
  layer = BigGANGBlock(512)
  layer.build((None, 12, 16, 16, 1024), (None, 240))
  assert layer.conv1.kernel.shape == (3, 3, 1024, 512)
  assert layer.conv2.kernel.shape == (3, 3, 512, 512)
  assert layer.conv_sc.kernel.shape == (1, 1, 1024, 512)
  assert layer.bn1.gamma.kernel.shape == (240, 1024) and layer.bn2.gamma.kernel.shape == (240, 512)
  deep = BigGANDeepGBlock(512)
  deep.build((None, 12, 16, 16, 1024), (None, 240))
  assert deep.conv1.kernel.shape == (1, 1, 1024, 256)
  assert deep.conv4.kernel.shape == (1, 1, 256, 512)
  assert deep.conv_sc is None
  assert deep.bn1.gamma.kernel.shape == (240, 1024)


@G_BLOCKS
def test_gblock_on_two_replicas_matches_one_replica(two_replicas, block_cls):
  """Under a 2-replica MirroredStrategy a G block training step (cross-replica BN in every CBN, u updates in
  replica context) gives the same output, moving statistics and u as the whole batch on one replica."""
  x = _video((4, 2, 2, 2, 8))
  x[2:] += 2.0
  cond = _video((4, 3), 1)
  strategy = two_replicas.strategy
  with strategy.scope():
    layer = block_cls(4, bn_momentum=0.5)
    layer.build(x.shape, cond.shape)
  single = block_cls(4, bn_momentum=0.5)
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
