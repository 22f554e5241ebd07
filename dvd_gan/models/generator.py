"""DVD-GAN generator G (docs/paper.md, "Generator G").

    cond = [z; e(y)]                                      [B, z_dim + embed_dim]  (z alone if unconditional)
    affine (SNDense) -> 4 x 4 x ch0, tiled over T         [B, T, 4, 4, ch0]
    ConvGRU (multiplicative or standard), state 0         [B, T, 4, 4, ch0]
    SelfAttention over all T x 4 x 4 positions (one head)
    per-frame residual network of BigGAN blocks (`block="biggan"`): 2 blocks per resolution stage and the
      whole cond in every block's class-conditional BN (the two things taken from BigGAN-deep; statistics
      per time step), SeparableSelfAttention before the last block
    BatchNorm, ReLU, 3x3 SNConv2D -> 3, tanh              [B, T, H, W, 3] in [-1, 1]

`block="biggan_deep"` builds the residual network from BigGAN-deep's bottleneck blocks instead, the variant
the paper's appendix C reports as faster in wall-clock time but worse on the metrics (docs/paper.md,
"Negative results (appendix C)"); it is kept for that comparison and for runs trained with it. A
`get_config()` without the "block" key means "biggan_deep" (dvd_gan/legacy.py): `from_config` rebuilds such a
generator as it was trained.

Choices where the paper is silent (all documented in docs/models.md):
  * Block order inside a stage follows BigGAN-deep (github.com/ajbrock/BigGAN-PyTorch, BigGANdeep.py): first
    a block that keeps resolution and channels, then the block that upsamples and changes channels.
  * The class embedding e(y) is an `SNEmbedding` (spectral norm on all weight layers, docs/paper.md).
  * The ConvGRU has ch0 filters, so its output has the shape of its input.
"""
import keras
import tensorflow as tf

from dvd_gan import layers as L
from dvd_gan import legacy
from dvd_gan.models.saving import BuildByTracing

_PACKAGE = "dvd_gan"
RNN_KINDS = ("multiplicative", "standard")
G_BLOCK_KINDS = tuple(L.G_BLOCKS)      # ("biggan", "biggan_deep")


def check_generator_args(num_frames, resolution, multipliers, rnn, blocks_per_stage, block="biggan"):
  """Raises a one-line ValueError if the generator cannot be built with these arguments."""
  if int(num_frames) < 1:
    raise ValueError(f"num_frames must be >= 1, got {num_frames}")
  if len(multipliers) < 1:
    raise ValueError("g_multipliers must have at least one entry (ch0)")
  expected = 4 * 2 ** (len(multipliers) - 1)
  if int(resolution) != expected:
    raise ValueError(
        f"g_multipliers {tuple(multipliers)} give {len(multipliers) - 1} upsampling stages, i.e. "
        f"{expected}x{expected} videos, but resolution is {resolution}")
  if rnn not in RNN_KINDS:
    raise ValueError(f"g_rnn must be one of {RNN_KINDS}, got {rnn!r}")
  if int(blocks_per_stage) < 1:
    raise ValueError(f"g_blocks_per_stage must be >= 1, got {blocks_per_stage}")
  if block not in G_BLOCK_KINDS:
    raise ValueError(f"g_block must be one of {G_BLOCK_KINDS}, got {block!r}")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Generator(BuildByTracing, keras.Model):
  """DVD-GAN generator: `call(z [B, z_dim], y [B] int or None, training=None) -> [B, T, H, W, 3]`.

  Args:
    num_frames: T.
    resolution: H = W; must equal 4 * 2**(len(multipliers) - 1).
    num_classes: number of classes; 0 = unconditional (y is ignored, cond = z).
    ch: channel width; layer i has ch * multipliers[i] channels, ch0 = ch * multipliers[0].
    multipliers: ch0 multiplier, then the output multiplier of each resolution stage.
    z_dim, embed_dim: sizes of z and e(y) (120 and 120 in the paper).
    rnn: "multiplicative" (MultiplicativeConvGRU, relu candidate) or "standard" (ConvGRU, tanh).
    blocks_per_stage: residual blocks per resolution stage (2 = BigGAN-deep's count, the paper; 1 = BigGAN).
    block: "biggan" (BigGAN's residual block, the paper) or "biggan_deep" (BigGAN-deep's bottleneck block,
      appendix C's variant). `from_config` of a config without this key gives "biggan_deep".
    rnn_attention: full SelfAttention over T x 4 x 4 after the RNN.
    separable_attention_blocks: indices of the residual blocks (negative from the end) before which a
      SeparableSelfAttention is applied; (-1,) = before the last block (the paper).
  """

  def __init__(self, num_frames, resolution, num_classes, ch, multipliers, z_dim=120, embed_dim=120,
               rnn="multiplicative", blocks_per_stage=2, rnn_attention=True,
               separable_attention_blocks=(-1,), bn_momentum=0.999, remat=False, block="biggan",
               **kwargs):
    super().__init__(**kwargs)
    multipliers = tuple(int(m) for m in multipliers)
    check_generator_args(num_frames, resolution, multipliers, rnn, blocks_per_stage, block)
    self.num_frames = int(num_frames)
    self.resolution = int(resolution)
    self.num_classes = int(num_classes)
    self.ch = int(ch)
    self.multipliers = multipliers
    self.z_dim = int(z_dim)
    self.embed_dim = int(embed_dim)
    self.rnn_kind = rnn
    self.blocks_per_stage = int(blocks_per_stage)
    self.use_rnn_attention = bool(rnn_attention)
    self.separable_attention_blocks = tuple(int(i) for i in separable_attention_blocks)
    self.bn_momentum = float(bn_momentum)
    self.remat = bool(remat)
    self.block_kind = block

    ch0 = self.ch * multipliers[0]
    self.ch0 = ch0
    self.embed = (L.SNEmbedding(self.num_classes, self.embed_dim, name="class_embedding")
                  if self.num_classes > 0 else None)
    self.affine = L.SNDense(4 * 4 * ch0, name="affine")
    rnn_cls = L.MultiplicativeConvGRU if rnn == "multiplicative" else L.ConvGRU
    self.rnn = rnn_cls(ch0, kernel_size=3, name="conv_gru")
    self.rnn_attention = (L.SelfAttention(axes=(1, 2, 3), name="rnn_attention")
                          if self.use_rnn_attention else None)

    block_cls = L.G_BLOCKS[block]
    self.blocks = []
    for stage in range(1, len(multipliers)):
      in_ch = self.ch * multipliers[stage - 1]
      out_ch = self.ch * multipliers[stage]
      for j in range(self.blocks_per_stage - 1):
        self.blocks.append(block_cls(in_ch, upsample=False, bn_momentum=self.bn_momentum,
                                     name=f"gblock_{stage}_{j}"))
      self.blocks.append(block_cls(out_ch, upsample=True, bn_momentum=self.bn_momentum,
                                   name=f"gblock_{stage}_up"))
    n = len(self.blocks)
    positions = set()
    for i in self.separable_attention_blocks:
      if not -n <= i < n:
        raise ValueError(f"g_separable_attention_blocks index {i} is out of range for {n} blocks")
      positions.add(i % n)
    self._attention_positions = tuple(sorted(positions))
    self.separable_attentions = [
        L.SeparableSelfAttention(name=f"separable_attention_{i}") for i in self._attention_positions]

    self.out_bn = L.BatchNorm(momentum=self.bn_momentum, name="out_bn")
    self.out_conv = L.SNConv2D(3, 3, name="out_conv")

  def class_embedding(self, y, training=None):
    """The class embedding e(y) `[B, embed_dim]` of int labels y `[B]` (class-conditional generators only)."""
    if self.embed is None:
      raise ValueError("this generator is unconditional: it has no class embedding")
    return self.embed(tf.cast(y, tf.int32), training=training)

  def conditioning(self, z, y=None, training=None, embedding=None):
    """The conditioning vector [z; e(y)] `[B, z_dim + embed_dim]` (z alone if unconditional).

    `embedding` `[B, embed_dim]` replaces e(y) when given (e.g. a mix of two classes' embeddings, for class
    interpolations); y is then ignored.
    """
    z = tf.convert_to_tensor(z)
    if z.shape.rank != 2 or (z.shape[-1] is not None and z.shape[-1] != self.z_dim):
      raise ValueError(f"z must have shape [B, {self.z_dim}], got {z.shape}")
    z = tf.cast(z, self.compute_dtype)
    if self.embed is None:
      return z
    if embedding is None:
      if y is None:
        raise ValueError(f"this generator is class-conditional ({self.num_classes} classes): pass labels y")
      embedding = self.class_embedding(y, training=training)
    return tf.concat([z, tf.cast(embedding, z.dtype)], axis=-1)

  def temporal_stem(self, cond, training=None, initial_state=None):
    """[z; e(y)] -> affine -> tiled over T -> ConvGRU -> self-attention: `[B, T, 4, 4, ch0]`.

    `initial_state` `[B, 4, 4, ch0]`: the ConvGRU's initial state (zeros when None; DVD-GAN-FP: from the
    conditioning frames, dvd_gan/models/prediction_generator.py)."""
    x = self.affine(cond, training=training)
    x = L.util.repeat_elements(tf.reshape(x, [-1, 1, 4, 4, self.ch0]), {1: self.num_frames})   # [B, T, 4, 4, ch0]
    h = self.rnn(x, initial_state=initial_state, training=training)
    if self.rnn_attention is not None:
      h = self.rnn_attention(h, training=training)
    return h

  def frame_network(self, h, cond, training=None, block_input=None):
    """The per-frame residual network: `[B, T, 4, 4, ch0]`, cond `[B, D]` -> `[B, T, H, W, 3]`.

    `block_input(i, h) -> h`, if given, transforms the input of residual block i (DVD-GAN-FP's U-Net skips,
    dvd_gan/models/prediction_generator.py)."""
    attention = dict(zip(self._attention_positions, self.separable_attentions))
    for i, block in enumerate(self.blocks):
      if i in attention:
        h = attention[i](h, training=training)
      if block_input is not None:
        h = block_input(i, h)
      if self.remat and training:
        h = L.remat(lambda x, c, block=block: block(x, c, training=training))(h, cond)
      else:
        h = block(h, cond, training=training)
    h = tf.nn.relu(self.out_bn(h, training=training))
    frames, b, t = L.fold_time(h)
    frames = tf.tanh(self.out_conv(frames, training=training))
    return tf.cast(L.unfold_time(frames, b, t), tf.float32)

  def generate(self, cond, training=None):
    """The video `[B, T, H, W, 3]` of a conditioning vector `[B, z_dim (+ embed_dim)]` (see `conditioning`)."""
    h = self.temporal_stem(cond, training=training)
    return self.frame_network(h, cond, training=training)

  def call(self, z, y=None, training=None):
    return self.generate(self.conditioning(z, y, training=training), training=training)

  def get_config(self):
    config = super().get_config()
    config.update({
        "num_frames": self.num_frames,
        "resolution": self.resolution,
        "num_classes": self.num_classes,
        "ch": self.ch,
        "multipliers": self.multipliers,
        "z_dim": self.z_dim,
        "embed_dim": self.embed_dim,
        "rnn": self.rnn_kind,
        "blocks_per_stage": self.blocks_per_stage,
        "rnn_attention": self.use_rnn_attention,
        "separable_attention_blocks": self.separable_attention_blocks,
        "bn_momentum": self.bn_momentum,
        "remat": self.remat,
        "block": self.block_kind,
    })
    return config

  @classmethod
  def from_config(cls, config):
    """A config without "block" was written before BigGAN blocks existed: its G had BigGAN-deep blocks."""
    return super().from_config(legacy.generator_config(config))
