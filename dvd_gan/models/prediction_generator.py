"""DVD-GAN-FP: the frame-conditional generator for future video prediction (docs/paper.md, DVD-GAN-FP;
appendix A.4).

    context [B, C, H, W, 3] (the C conditioning frames, in [-1, 1])
      ConditioningNetwork: each frame alone through a DS-like residual network (BigGAN D blocks, spectral
      norm, no class input); block i gives per-frame features [B, C, r_i, r_i, F_i]; the C frames' features
      are concatenated on channels -> [B, r_i, r_i, C * F_i] (frame-major: channel c * F_i + f)
      last block (4 x 4) -> 1x1 SNConv2D -> initial state of the ConvGRU   [B, 4, 4, ch0]
    z [B, z_dim] -> affine -> tiled over T -> ConvGRU (state from the frames) -> self-attention
    per-frame residual network of G; U-Net skips: the input h [B, T, r, r, Cg] of G's FIRST residual block
      that works at resolution r is replaced by
        SNConv2D_3x3( concat[h_t ; skip_r] ) -> Cg channels, for every generated frame t,
      where skip_r [B, r, r, C * F] is the conditioning network's (deepest) output at resolution r, the same
      for every generated frame (the C frames' features concatenated on channels, as for the state)
    -> the T PREDICTED frames only [B, T, H, W, 3]; the caller concatenates [context; prediction] on time
      for the discriminators, so nothing marks the first C frames as given.

No class conditioning anywhere: G's batch norms are conditioned on z alone, and the discriminators of a
DVD-GAN-FP config have no projection (num_classes = 0; `dvd_gan.models.build.check_config`).

Choices where the paper is silent (docs/models.md, "DVD-GAN-FP"):
  * "The same kind of residual network as DS": DS's BigGAN D blocks, by default DS's width and multipliers
    (`model.cond_ch = 0`, `model.cond_multipliers = ()`); its last block must give 4 x 4 features (the
    ConvGRU's grid), i.e. resolution / 2**(len(multipliers) - 1) = 4 (true for DS's paper multipliers).
  * Pairing of the skips: by resolution. The paper pairs "block i" with "block i"; here the conditioning
    network's deepest output at resolution r (U-Net: the encoder's last feature map at r) goes to the input
    of G's first residual block whose input is r x r. Resolutions only one side has get no skip (e.g. the
    full resolution, which no conditioning block outputs). `unet_skips=False` drops every skip.
  * The features enter the state conv and the skip convs as the blocks output them (no extra activation).
  * ch0 = the ConvGRU's width = the state conv's output: the paper's FP models use 512 channels
    (experiments/bair_fp.py, kinetics600_fp.py: G ch 64 x multiplier 8).
"""
import keras
import tensorflow as tf

from dvd_gan import layers as L
from dvd_gan.models.generator import Generator
from dvd_gan.models.saving import trace_inference_call

_PACKAGE = "dvd_gan"


def check_conditioning_args(num_conditioning_frames, resolution, multipliers):
  """Raises a one-line ValueError if the conditioning network cannot be built with these arguments."""
  if int(num_conditioning_frames) < 1:
    raise ValueError(f"DVD-GAN-FP needs >= 1 conditioning frame, got {num_conditioning_frames}")
  if len(multipliers) < 1:
    raise ValueError("model.cond_multipliers must have at least one entry")
  out = int(resolution) // 2 ** (len(multipliers) - 1)
  if out * 2 ** (len(multipliers) - 1) != int(resolution) or out != 4:
    raise ValueError(
        f"model.cond_multipliers {tuple(multipliers)}: {len(multipliers)} blocks take {resolution}x{resolution} "
        f"frames to {resolution / 2 ** (len(multipliers) - 1):g}x{resolution / 2 ** (len(multipliers) - 1):g}, "
        "but the ConvGRU state is 4x4: use resolution / 2**(len - 1) = 4")


def frames_to_channels(features, batch, num_frames):
  """Per-frame features `[B*C, r, r, F]` (fold order of `util.fold_time`) -> `[B, r, r, C*F]`, the C frames
  concatenated on channels (channel c * F + f is channel f of frame c)."""
  _, r1, r2, f = L.util.static_or_dynamic_shape(features)
  x = tf.reshape(features, [batch, num_frames, r1, r2, f])
  x = tf.transpose(x, [0, 2, 3, 1, 4])
  return tf.reshape(x, [batch, r1, r2, num_frames * f])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ConditioningNetwork(keras.layers.Layer):
  """`call(context [B, C, H, W, 3], training=None) -> (state [B, 4, 4, state_channels], features)`.

  `features[i]` is block i's output with the C frames concatenated on channels, `[B, r_i, r_i, C * ch *
  multipliers[i]]`; `resolutions()[i]` is r_i. Blocks: BigGAN D blocks like DS's (all but the last halve H
  and W, the first without pre-activation), applied to each frame alone; no class input.
  """

  def __init__(self, num_frames, resolution, ch, multipliers, state_channels, **kwargs):
    super().__init__(**kwargs)
    multipliers = tuple(int(m) for m in multipliers)
    check_conditioning_args(num_frames, resolution, multipliers)
    self.num_frames = int(num_frames)
    self.resolution = int(resolution)
    self.ch = int(ch)
    self.multipliers = multipliers
    self.state_channels = int(state_channels)
    n = len(multipliers)
    self.blocks = [L.DBlock(self.ch * m, downsample=i < n - 1, preactivation=i > 0, name=f"dblock_{i}",
                            dtype=self.dtype_policy)
                   for i, m in enumerate(multipliers)]
    self.state_conv = L.SNConv2D(self.state_channels, 1, name="state_conv", dtype=self.dtype_policy)

  def resolutions(self):
    """Spatial size of each block's output."""
    out, r = [], self.resolution
    for block in self.blocks:
      r = r // 2 if block.downsample else r
      out.append(r)
    return out

  def feature_channels(self):
    """Channels of each entry of `features` (C frames x block width)."""
    return [self.num_frames * block.out_channels for block in self.blocks]

  def build(self, context_shape):
    if len(context_shape) != 5 or context_shape[1] != self.num_frames:
      raise ValueError(f"{self.name}: context must be [B, {self.num_frames}, H, W, 3], got shape {context_shape}")
    shape = (None,) + tuple(context_shape[2:])
    for block in self.blocks:
      block.build(shape)
      shape = block.compute_output_shape(shape)
    self.state_conv.build((None, shape[1], shape[2], self.num_frames * shape[3]))

  def call(self, context, training=None):
    context = tf.convert_to_tensor(context)
    if context.shape.rank != 5 or context.shape[1] != self.num_frames or context.shape[-1] != 3:
      raise ValueError(f"context must be [B, {self.num_frames}, {self.resolution}, {self.resolution}, 3] "
                       f"(the conditioning frames), got shape {context.shape}")
    if context.shape[2] not in (None, self.resolution) or context.shape[3] not in (None, self.resolution):
      raise ValueError(f"context frames must be {self.resolution}x{self.resolution}, got shape {context.shape}")
    frames, b, c = L.fold_time(tf.cast(context, self.compute_dtype))
    h, features = frames, []
    for block in self.blocks:
      h = block(h, training=training)
      features.append(frames_to_channels(h, b, c))
    state = self.state_conv(features[-1], training=training)
    return state, features

  def get_config(self):
    config = super().get_config()
    config.update({"num_frames": self.num_frames, "resolution": self.resolution, "ch": self.ch,
                   "multipliers": self.multipliers, "state_channels": self.state_channels})
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FramePredictionGenerator(Generator):
  """DVD-GAN-FP generator: `call(z [B, z_dim], context [B, C, H, W, 3], training=None) -> [B, T, H, W, 3]`,
  the T frames that follow the C conditioning frames (module docstring). There is no class input: the
  constructor refuses `num_classes` other than 0 and `call` has no `y`.

  Args (besides `Generator`'s, minus the class embedding):
    num_conditioning_frames: C.
    cond_ch, cond_multipliers: widths of the conditioning network (block i has cond_ch * cond_multipliers[i]
      channels); the paper: DS's.
    unet_skips: the U-Net skips from the conditioning network into G's residual network.
  """

  def __init__(self, num_frames, resolution, num_conditioning_frames, ch, multipliers, cond_ch,
               cond_multipliers, unet_skips=True, num_classes=0, **kwargs):
    if int(num_classes) != 0:
      raise ValueError(f"DVD-GAN-FP has no class input (docs/paper.md, DVD-GAN-FP): num_classes must be 0, "
                       f"got {num_classes}")
    kwargs.pop("embed_dim", None)
    super().__init__(num_frames=num_frames, resolution=resolution, num_classes=0, ch=ch,
                     multipliers=multipliers, **kwargs)
    self.num_conditioning_frames = int(num_conditioning_frames)
    self.cond_ch = int(cond_ch)
    self.cond_multipliers = tuple(int(m) for m in cond_multipliers)
    self.unet_skips = bool(unet_skips)
    self.conditioning_network = ConditioningNetwork(
        self.num_conditioning_frames, self.resolution, self.cond_ch, self.cond_multipliers, self.ch0,
        name="conditioning_network")
    # Skips: G block index -> (conditioning feature index, 3x3 conv back to the block's input width).
    self.skip_pairs = self._pair_skips() if self.unet_skips else {}
    self.skip_convs = [L.SNConv2D(channels, 3, name=f"skip_conv_{i}")
                       for i, (_, channels) in sorted(self.skip_pairs.items())]
    self._skip_conv_index = {i: k for k, i in enumerate(sorted(self.skip_pairs))}

  def block_inputs(self):
    """(resolution, channels) of the input of each residual block of G."""
    out, r, c = [], 4, self.ch0
    for block in self.blocks:
      out.append((r, c))
      r = 2 * r if block.upsample else r
      c = block.out_channels
    return out

  def _pair_skips(self):
    """{G block index: (conditioning feature index, G block input channels)}, paired by resolution."""
    deepest = {}
    for j, r in enumerate(self.conditioning_network.resolutions()):
      deepest[r] = j                                        # later (deeper) blocks overwrite earlier ones
    pairs, seen = {}, set()
    for i, (r, channels) in enumerate(self.block_inputs()):
      if r in seen:
        continue
      seen.add(r)
      if r in deepest:
        pairs[i] = (deepest[r], channels)
    return pairs

  def skip_resolutions(self):
    """{G block index: resolution} of the U-Net skips."""
    return {i: self.block_inputs()[i][0] for i in self.skip_pairs}

  def conditioning_features(self, context, training=None):
    """`(initial_state [B, 4, 4, ch0], features [per conditioning block])` of the conditioning frames."""
    return self.conditioning_network(context, training=training)

  def predict_from_features(self, z, state, features, training=None):
    """G's prediction from z and the conditioning network's outputs (for tests of each path)."""
    cond = self.conditioning(z, None, training=training)
    h = self.temporal_stem(cond, training=training, initial_state=state)

    def block_input(i, h):
      if i not in self.skip_pairs:
        return h
      skip = tf.cast(features[self.skip_pairs[i][0]], h.dtype)              # [B, r, r, C*F]
      t = h.shape[1]
      x = tf.concat([h, L.util.repeat_elements(skip[:, None], {1: t})], axis=-1)     # [B, T, r, r, Cg + C*F]
      frames, b, t = L.fold_time(x)
      conv = self.skip_convs[self._skip_conv_index[i]]
      return L.unfold_time(conv(frames, training=training), b, t)

    return self.frame_network(h, cond, training=training, block_input=block_input)

  def generate(self, cond, training=None):
    raise ValueError("DVD-GAN-FP predicts from conditioning frames: call(z, context), not generate(cond)")

  def call(self, z, context, training=None):
    if context is None:
      raise ValueError("DVD-GAN-FP needs the conditioning frames: call(z, context [B, C, H, W, 3])")
    state, features = self.conditioning_features(context, training=training)
    return self.predict_from_features(z, state, features, training=training)

  def build_from_config(self, config):
    if config and config.get("input_shape") is not None:
      trace_generator(self)

  def get_config(self):
    config = super().get_config()
    config.pop("embed_dim", None)
    config.update({
        "num_conditioning_frames": self.num_conditioning_frames,
        "cond_ch": self.cond_ch,
        "cond_multipliers": self.cond_multipliers,
        "unet_skips": self.unet_skips,
    })
    return config


def takes_conditioning_frames(generator) -> int:
  """C if `generator` predicts from C conditioning frames (DVD-GAN-FP), else 0."""
  return int(getattr(generator, "num_conditioning_frames", 0) or 0)


def trace_generator(generator) -> None:
  """Creates every variable of G (synthesis or DVD-GAN-FP) by tracing, not running, a batch-1 inference call
  (see `dvd_gan.models.saving.trace_inference_call`)."""
  c = takes_conditioning_frames(generator)
  if not c:
    trace_inference_call(generator, [1, generator.z_dim])
    return
  r = generator.resolution
  tf.function(lambda z, ctx: generator(z, ctx, training=False)).get_concrete_function(
      tf.TensorSpec([1, generator.z_dim], tf.float32), tf.TensorSpec([1, c, r, r, 3], tf.float32))
