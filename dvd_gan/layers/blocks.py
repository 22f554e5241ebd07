"""Residual blocks: BigGAN and BigGAN-deep generator blocks on videos, BigGAN discriminator blocks (2-D, 3-D).

BigGANGBlock (BigGAN's generator block, the block of DVD-GAN's G: docs/paper.md, "Residual network"), on
`[B, T, H, W, Cin]` with conditioning `[B, D]`:
  h = conv3x3(up(relu(CBN_1(x, c))))        Cin  -> Cout    (up: nearest 2x in H and W, if upsample)
  h = conv3x3(relu(CBN_2(h, c)))            Cout -> Cout
  skip = conv1x1(up(x))  if Cin != Cout or upsample, else x
  out = h + skip
The skip's 1x1 conv is applied before the upsampling: a 1x1 conv (and its bias) acts on each pixel alone
and nearest upsampling only repeats pixels, so conv1x1(up(x)) == up(conv1x1(x)) exactly, at a quarter of
the cost (tests/dvd_gan/layers/test_residual_blocks.py checks the block against the upsample-then-conv
reference).

BigGANDeepGBlock (BigGAN-deep's bottleneck block, channel ratio 4; appendix C's rejected variant, kept for that
comparison and for runs trained with it). Keras knows it by its file-format name "GBlock" (registered name
"dvd_gan>GBlock", weight paths "blocks/g_block_1/..." in `.keras` files), the name it had as the only G block,
so old files load (dvd_gan/legacy.py):
  h = conv1x1(relu(CBN_1(x, c)))            Cin  -> Cin/4
  h = conv3x3(up(relu(CBN_2(h, c))))        Cin/4 -> Cin/4   (up: nearest 2x in H and W, if upsample)
  h = conv3x3(relu(CBN_3(h, c)))            Cin/4 -> Cin/4
  h = conv1x1(relu(CBN_4(h, c)))            Cin/4 -> Cout
  skip = up(x[..., :Cout])                  (BigGAN-deep drops channels; if Cout > Cin, the missing
                                             Cout - Cin channels come from a 1x1 conv of x)
  out = h + skip
In both, convolutions act per frame (time folded into the batch, `util.fold_time`); the conditional batch
norms act on the 5-D tensor, so their statistics stay per time step and cond `[B, D]` is broadcast per
video (no repetition along the folded batch that could be misordered).

DBlock (BigGAN discriminator block) on `[N, H, W, Cin]`, hidden width Cout:
  h = conv3x3(relu(x)) (no relu if not preactivation), h = conv3x3(relu(h)), h = avgpool2x2(h) if downsample
  skip (1x1 conv, when Cin != Cout or downsample): preactivation: avgpool(conv1x1(x)); else
  conv1x1(avgpool(x)); out = h + skip.
DBlock3D is the same on `[B, T, H, W, Cin]` with 3x3x3 / 1x1x1 SNConv3D; it pools 2x2 in space, and 2 in
time too iff `downsample_time` (the paper does not say; default False, keeping T).
All convolutions are spectrally normalised.
"""
import keras
import tensorflow as tf

from dvd_gan import legacy
from dvd_gan.layers.batch_norm import ClassConditionalBatchNorm
from dvd_gan.layers.spectral_norm import SNConv2D, SNConv3D
from dvd_gan.layers.util import fold_time, unfold_time, upsample_nearest_2x

_PACKAGE = "dvd_gan"


def _per_frame(conv, x, training):
  """Applies a 2-D layer to every frame of `[B, T, H, W, C]`."""
  frames, b, t = fold_time(x)
  return unfold_time(conv(frames, training=training), b, t)


def _check_video_input(name, x_shape):
  if len(x_shape) != 5 or x_shape[1] is None or x_shape[-1] is None:
    raise ValueError(f"{name}: x must be [B, T, H, W, C] with static T and C, got shape {x_shape}")


def _up_shape(h, w, upsample):
  if not upsample:
    return h, w
  return (None if h is None else 2 * h), (None if w is None else 2 * w)


class _GBlockBase(keras.layers.Layer):
  """What both generator blocks share: arguments, upsampling, input checks, output shape, config."""

  def __init__(self, out_channels, upsample=True, bn_momentum=0.999, bn_epsilon=1e-5, **kwargs):
    super().__init__(**kwargs)
    self.out_channels = int(out_channels)
    self.upsample = bool(upsample)
    self.bn_momentum = float(bn_momentum)
    self.bn_epsilon = float(bn_epsilon)

  def _cbn(self, name):
    return ClassConditionalBatchNorm(momentum=self.bn_momentum, epsilon=self.bn_epsilon, name=name,
                                     dtype=self.dtype_policy)

  def _up(self, x):
    return upsample_nearest_2x(x, axes=(2, 3)) if self.upsample else x

  def _check_call(self, x, cond):
    if x.shape.rank != 5 or cond.shape.rank != 2:
      raise ValueError(f"{self.name}: expected x [B,T,H,W,C] and cond [B,D], got {x.shape}, {cond.shape}")

  def compute_output_shape(self, x_shape, cond_shape):
    b, t, h, w, _ = x_shape
    h, w = _up_shape(h, w, self.upsample)
    return (b, t, h, w, self.out_channels)

  def get_config(self):
    config = super().get_config()
    config.update({
        "out_channels": self.out_channels,
        "upsample": self.upsample,
        "bn_momentum": self.bn_momentum,
        "bn_epsilon": self.bn_epsilon,
    })
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BigGANGBlock(_GBlockBase):
  """BigGAN's generator block on videos (the block of DVD-GAN's G; module docstring).

  `call(x [B,T,H,W,Cin], cond [B,D], training=None) -> [B,T,2H,2W,Cout]` (`[B,T,H,W,Cout]` without
  upsampling).

  Args:
    out_channels: Cout, the width of both 3x3 convolutions.
    upsample: nearest-neighbour 2x upsampling in H and W.
    bn_momentum, bn_epsilon: of the two conditional batch norms.
  """

  def build(self, x_shape, cond_shape):
    _check_video_input(self.name, x_shape)
    b, t, h, w, c_in = x_shape
    pol = self.dtype_policy
    h2, w2 = _up_shape(h, w, self.upsample)
    self.bn1, self.bn2 = self._cbn("bn1"), self._cbn("bn2")
    self.conv1 = SNConv2D(self.out_channels, 3, name="conv1", dtype=pol)
    self.conv2 = SNConv2D(self.out_channels, 3, name="conv2", dtype=pol)
    self.bn1.build(x_shape, cond_shape)
    self.conv1.build((None, h2, w2, c_in))
    self.bn2.build((b, t, h2, w2, self.out_channels), cond_shape)
    self.conv2.build((None, h2, w2, self.out_channels))
    self.conv_sc = None
    if c_in != self.out_channels or self.upsample:
      self.conv_sc = SNConv2D(self.out_channels, 1, name="conv_sc", dtype=pol)
      self.conv_sc.build((None, h, w, c_in))

  def call(self, x, cond, training=None):
    self._check_call(x, cond)
    h = self._up(tf.nn.relu(self.bn1(x, cond, training=training)))
    h = _per_frame(self.conv1, h, training)
    h = tf.nn.relu(self.bn2(h, cond, training=training))
    h = _per_frame(self.conv2, h, training)
    skip = x
    if self.conv_sc is not None:
      skip = _per_frame(self.conv_sc, x, training)  # == conv_sc(up(x)): see the module docstring
    return h + self._up(skip)


@keras.saving.register_keras_serializable(package=_PACKAGE)
@legacy.keras_name
class BigGANDeepGBlock(_GBlockBase):
  """BigGAN-deep's bottleneck generator block on videos (appendix C's variant; module docstring).

  `call(x [B,T,H,W,Cin], cond [B,D], training=None) -> [B,T,2H,2W,Cout]` (`[B,T,H,W,Cout]` without
  upsampling).

  Args:
    out_channels: Cout.
    upsample: nearest-neighbour 2x upsampling in H and W.
    channel_ratio: bottleneck ratio (hidden width Cin // channel_ratio, at least 1).
    bn_momentum, bn_epsilon: of the conditional batch norms.
  """

  def __init__(self, out_channels, upsample=True, channel_ratio=4, bn_momentum=0.999, bn_epsilon=1e-5,
               **kwargs):
    super().__init__(out_channels, upsample=upsample, bn_momentum=bn_momentum, bn_epsilon=bn_epsilon,
                     **kwargs)
    self.channel_ratio = int(channel_ratio)

  def build(self, x_shape, cond_shape):
    _check_video_input(self.name, x_shape)
    b, t, h, w, c_in = x_shape
    mid = max(1, c_in // self.channel_ratio)
    pol = self.dtype_policy
    bn = self._cbn
    self.bn1, self.bn2, self.bn3, self.bn4 = bn("bn1"), bn("bn2"), bn("bn3"), bn("bn4")
    self.conv1 = SNConv2D(mid, 1, name="conv1", dtype=pol)
    self.conv2 = SNConv2D(mid, 3, name="conv2", dtype=pol)
    self.conv3 = SNConv2D(mid, 3, name="conv3", dtype=pol)
    self.conv4 = SNConv2D(self.out_channels, 1, name="conv4", dtype=pol)
    h2, w2 = _up_shape(h, w, self.upsample)
    self.bn1.build(x_shape, cond_shape)
    self.conv1.build((None, h, w, c_in))
    self.bn2.build((b, t, h, w, mid), cond_shape)
    self.conv2.build((None, h2, w2, mid))
    self.bn3.build((b, t, h2, w2, mid), cond_shape)
    self.conv3.build((None, h2, w2, mid))
    self.bn4.build((b, t, h2, w2, mid), cond_shape)
    self.conv4.build((None, h2, w2, mid))
    self.conv_sc = None
    if self.out_channels > c_in:
      self.conv_sc = SNConv2D(self.out_channels - c_in, 1, name="conv_sc", dtype=pol)
      self.conv_sc.build((None, h, w, c_in))

  def call(self, x, cond, training=None):
    self._check_call(x, cond)
    h = tf.nn.relu(self.bn1(x, cond, training=training))
    h = _per_frame(self.conv1, h, training)
    h = self._up(tf.nn.relu(self.bn2(h, cond, training=training)))
    h = _per_frame(self.conv2, h, training)
    h = tf.nn.relu(self.bn3(h, cond, training=training))
    h = _per_frame(self.conv3, h, training)
    h = tf.nn.relu(self.bn4(h, cond, training=training))
    h = _per_frame(self.conv4, h, training)
    if self.conv_sc is not None:
      skip = tf.concat([x, _per_frame(self.conv_sc, x, training)], axis=-1)
    else:
      skip = x[..., :self.out_channels]
    return h + self._up(skip)

  def get_config(self):
    config = super().get_config()
    config["channel_ratio"] = self.channel_ratio
    return config


G_BLOCKS = {"biggan": BigGANGBlock, "biggan_deep": BigGANDeepGBlock}


class _DBlockBase(keras.layers.Layer):
  """BigGAN discriminator block; subclasses fix the rank (2-D frames or 3-D videos)."""

  _rank = None
  _conv = None

  def __init__(self, out_channels, downsample=True, preactivation=True, **kwargs):
    super().__init__(**kwargs)
    self.out_channels = int(out_channels)
    self.downsample = bool(downsample)
    self.preactivation = bool(preactivation)

  def _pool_window(self):
    return (2, 2)

  def build(self, x_shape):
    if len(x_shape) != self._rank + 2 or x_shape[-1] is None:
      raise ValueError(
          f"{self.name}: expected a rank-{self._rank + 2} input with known channels, got shape {x_shape}")
    c_in = x_shape[-1]
    pol = self.dtype_policy
    self.conv1 = self._conv(self.out_channels, 3, name="conv1", dtype=pol)
    self.conv2 = self._conv(self.out_channels, 3, name="conv2", dtype=pol)
    self.conv1.build(x_shape)
    self.conv2.build(tuple(x_shape[:-1]) + (self.out_channels,))
    self.conv_sc = None
    if c_in != self.out_channels or self.downsample:
      self.conv_sc = self._conv(self.out_channels, 1, name="conv_sc", dtype=pol)
      sc_shape = x_shape if self.preactivation else self.compute_output_shape(x_shape)
      self.conv_sc.build(tuple(sc_shape[:-1]) + (c_in,))

  def _pool(self, x):
    if not self.downsample:
      return x
    window = self._pool_window()
    if self._rank == 2:
      return tf.nn.avg_pool2d(x, window, window, "VALID")
    return tf.nn.avg_pool3d(x, window, window, "VALID")

  def call(self, x, training=None):
    if x.shape.rank != self._rank + 2:
      raise ValueError(f"{self.name}: expected a rank-{self._rank + 2} input, got shape {x.shape}")
    h = tf.nn.relu(x) if self.preactivation else x
    h = self.conv1(h, training=training)
    h = self.conv2(tf.nn.relu(h), training=training)
    h = self._pool(h)
    skip = x
    if self.conv_sc is not None:
      if self.preactivation:
        skip = self._pool(self.conv_sc(x, training=training))
      else:
        skip = self.conv_sc(self._pool(x), training=training)
    return h + skip

  def compute_output_shape(self, x_shape):
    shape = list(x_shape)
    if self.downsample:
      window = self._pool_window()
      for i, k in enumerate(window):
        d = shape[1 + i]
        shape[1 + i] = None if d is None else d // k
    shape[-1] = self.out_channels
    return tuple(shape)

  def get_config(self):
    config = super().get_config()
    config.update({
        "out_channels": self.out_channels,
        "downsample": self.downsample,
        "preactivation": self.preactivation,
    })
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DBlock(_DBlockBase):
  """BigGAN discriminator block on frames: `call(x [N,H,W,Cin], training=None) -> [N,H/2,W/2,Cout]`
  (`[N,H,W,Cout]` without downsampling). `preactivation=False` for a network's first block."""

  _rank = 2
  _conv = SNConv2D


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DBlock3D(_DBlockBase):
  """3-D BigGAN discriminator block (DT's first two blocks), 3x3x3 convs:
  `call(x [B,T,H,W,Cin], training=None) -> [B,T',H/2,W/2,Cout]`, T' = T/2 iff `downsample_time`."""

  _rank = 3
  _conv = SNConv3D

  def __init__(self, out_channels, downsample=True, downsample_time=False, preactivation=True, **kwargs):
    super().__init__(out_channels, downsample=downsample, preactivation=preactivation, **kwargs)
    self.downsample_time = bool(downsample_time)

  def _pool_window(self):
    return (2 if self.downsample_time else 1, 2, 2)

  def get_config(self):
    config = super().get_config()
    config["downsample_time"] = self.downsample_time
    return config
