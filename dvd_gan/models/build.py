"""`build_models(config) -> (G, DS, DT)`: the three networks of a config, with their variables created.

Building a full-size paper model on CPU is dominated by the orthogonal initialiser (a QR decomposition per
weight: ~45 s for one 3x3x2048x2048 kernel on a loaded 2-core machine). `fast_init()` swaps it for a cheap
one while models are built, for parameter counts and shape checks only (never for training).
"""
import contextlib

import keras
import ml_collections
import tensorflow as tf

from dvd_gan.models.prediction_generator import (FramePredictionGenerator, check_conditioning_args,
                                         takes_conditioning_frames, trace_generator)
from dvd_gan.models.discriminators import (PHI_KINDS, SpatialDiscriminator, TemporalDiscriminator,
                                           check_discriminator_input, phi_factor)
from dvd_gan.legacy import g_block
from dvd_gan.models.generator import Generator, check_generator_args
from dvd_gan.models.saving import trace_inference_call


def num_conditioning_frames(config: ml_collections.ConfigDict) -> int:
  """C of a DVD-GAN-FP config (`data.num_conditioning_frames`), 0 for synthesis."""
  return int(config.data.get("num_conditioning_frames", 0)) if "data" in config else 0


def discriminator_frames(config: ml_collections.ConfigDict) -> int:
  """Frames DS and DT see: T, or C + T for DVD-GAN-FP ([conditioning frames; G's output])."""
  return int(config.num_frames) + num_conditioning_frames(config)


def conditioning_widths(config: ml_collections.ConfigDict):
  """(ch, multipliers) of DVD-GAN-FP's conditioning network: model.cond_*, or DS's when left 0 / ()."""
  m = config.model
  ch = int(m.get("cond_ch", 0)) or int(m.d_ch)
  multipliers = tuple(m.get("cond_multipliers", ())) or tuple(m.ds_multipliers)
  return ch, multipliers


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raises a one-line ValueError naming the first inconsistent model option of `config`."""
  m = config.model
  if int(config.num_classes) < 0:
    raise ValueError(f"num_classes must be >= 0 (0 = unconditional), got {config.num_classes}")
  check_generator_args(config.num_frames, config.resolution, m.g_multipliers, m.g_rnn,
                       m.g_blocks_per_stage, g_block(config))
  if m.dt_phi not in PHI_KINDS:
    raise ValueError(f"model.dt_phi must be one of {PHI_KINDS}, got {m.dt_phi!r}")
  r = int(config.resolution)
  check_discriminator_input("model.ds_multipliers", r, r, len(m.ds_multipliers))
  check_discriminator_input("model.dt_multipliers", r, r, len(m.dt_multipliers), phi_factor(m.dt_phi))
  c = num_conditioning_frames(config)
  if c < 0:
    raise ValueError(f"data.num_conditioning_frames must be >= 0, got {c}")
  if c:
    if int(config.num_classes) != 0:
      raise ValueError(f"DVD-GAN-FP (data.num_conditioning_frames = {c}) has no class input, but num_classes "
                       f"is {config.num_classes}: set num_classes = 0 (docs/paper.md, DVD-GAN-FP)")
    check_conditioning_args(c, r, conditioning_widths(config)[1])


def make_generator(config: ml_collections.ConfigDict):
  """The (unbuilt) generator of `config`: a `Generator`, or a `FramePredictionGenerator` for DVD-GAN-FP. No
  discriminator is constructed (loading a run's G_ema needs none)."""
  check_config(config)
  m = config.model
  g_args = dict(
      num_frames=config.num_frames, resolution=config.resolution, num_classes=config.num_classes,
      ch=m.g_ch, multipliers=m.g_multipliers, z_dim=m.z_dim, embed_dim=m.embed_dim, rnn=m.g_rnn,
      blocks_per_stage=m.g_blocks_per_stage, rnn_attention=m.g_rnn_attention,
      separable_attention_blocks=m.g_separable_attention_blocks, bn_momentum=m.get("g_bn_momentum", 0.999),
      remat=m.get("remat", False), block=g_block(config), name="generator")
  c = num_conditioning_frames(config)
  if c:  # DVD-GAN-FP: no class input anywhere (check_config: num_classes == 0)
    cond_ch, cond_multipliers = conditioning_widths(config)
    g = FramePredictionGenerator(num_conditioning_frames=c, cond_ch=cond_ch, cond_multipliers=cond_multipliers,
                                 unet_skips=m.get("fp_unet_skips", True), **g_args)
  else:
    g = Generator(**g_args)
  return g


def make_models(config: ml_collections.ConfigDict):
  """The three (unbuilt) models of `config`: `(Generator, SpatialDiscriminator, TemporalDiscriminator)`."""
  g = make_generator(config)
  m = config.model
  seed = int(config.get("seed", 0))
  ds = SpatialDiscriminator(
      num_classes=config.num_classes, ch=m.d_ch, multipliers=m.ds_multipliers, k=m.ds_k,
      attention_blocks=m.ds_attention_blocks, seed=seed, remat=m.get("remat", False),
      name="spatial_discriminator")
  dt = TemporalDiscriminator(
      num_classes=config.num_classes, ch=m.d_ch, multipliers=m.dt_multipliers, phi=m.dt_phi,
      num_3d_blocks=m.dt_num_3d_blocks, downsample_time=m.dt_downsample_time,
      attention_blocks=m.dt_attention_blocks, seed=seed + 1, remat=m.get("remat", False),
      name="temporal_discriminator")
  return g, ds, dt


def build_variables(g, ds, dt, config: ml_collections.ConfigDict) -> None:
  """Creates every variable of G, DS and DT by tracing (not running) a batch-1 inference call of each.

  `tf.function(...).get_concrete_function` traces the graph: variables are created and initialised
  eagerly, but no convolution runs, so this costs only the initialisers. Nothing stateful changes (no
  spectral-norm `u` or moving-statistics update, no seed drawn).
  """
  t, r = discriminator_frames(config), int(config.resolution)
  trace_generator(g)
  for d in (ds, dt):
    trace_inference_call(d, [1, t, r, r, 3])


def build_generator_from_shapes(g, batch=1):
  """Creates G's variables by calling each sub-layer's `build` with the shapes `call` would give it (no op
  traced or run). The variable paths are those of a traced call when run inside `keras.name_scope(g.name)`
  (as `build_from_shapes` does)."""
  t, d = g.num_frames, g.z_dim + (g.embed_dim if g.embed is not None else 0)
  if g.embed is not None:
    g.embed.build((batch,))
  g.affine.build((batch, d))
  shape = (batch, t, 4, 4, g.ch0)
  g.rnn.build(shape)
  if g.rnn_attention is not None:
    g.rnn_attention.build(shape)
  attention = dict(zip(g._attention_positions, g.separable_attentions))
  for i, block in enumerate(g.blocks):
    if i in attention:
      attention[i].build(shape)
    block.build(shape, (batch, d))
    shape = block.compute_output_shape(shape, (batch, d))
  g.out_bn.build(shape)
  g.out_conv.build((batch * t,) + tuple(shape[2:]))
  c = takes_conditioning_frames(g)
  if c:  # DVD-GAN-FP: the conditioning network and the skip convs
    net = g.conditioning_network
    net.build((batch, c, g.resolution, g.resolution, 3))  # Keras enters the layer's name scope itself
    widths = net.feature_channels()
    for i, (j, channels) in sorted(g.skip_pairs.items()):
      r = g.block_inputs()[i][0]
      g.skip_convs[g._skip_conv_index[i]].build((batch * t, r, r, channels + widths[j]))
  g.built = True


def _build_discriminator_from_shapes(d, num_frames, resolution, batch=1):
  """Creates DS's / DT's variables by calling each sub-layer's `build` with the shapes of `call`."""
  temporal = isinstance(d, TemporalDiscriminator)
  f = phi_factor(d.phi) if temporal else 1
  k = num_frames if temporal else min(d.k, num_frames)
  shape = (batch, k, resolution // f, resolution // f, 3)
  attention = dict(zip(d.attention_blocks, d.attentions))
  for i, block in enumerate(d.blocks):
    if temporal and i < d.num_3d_blocks:
      block.build(shape)
      shape = block.compute_output_shape(shape)
    else:
      frames = (shape[0] * shape[1],) + tuple(shape[2:])
      block.build(frames)
      shape = shape[:2] + tuple(block.compute_output_shape(frames)[1:])
    if i in attention:
      attention[i].build(shape)
  d.head.build((batch, shape[-1]))
  d.built = True


def build_from_shapes(g, ds, dt, config: ml_collections.ConfigDict) -> None:
  """Creates every variable of G, DS and DT without tracing any op: each sub-layer's `build` gets the
  shape its `call` would see. Much faster than `build_variables` for full-size models (a CPU parameter
  count of a paper config in seconds); tests/dvd_gan/models/test_paper_configs.py checks it creates
  exactly the variables (paths and shapes) of a traced call."""
  with keras.name_scope(g.name):  # the variable paths of a traced call: "<model name>/<layer>/..."
    build_generator_from_shapes(g)
  for d in (ds, dt):
    with keras.name_scope(d.name):
      _build_discriminator_from_shapes(d, discriminator_frames(config), int(config.resolution))


@contextlib.contextmanager
def fast_init(kind="normal", stddev=0.02, seed=0):
  """Within this context, "orthogonal" initialisers give N(0, stddev^2) (`kind="normal"`) or zeros
  (`kind="zeros"`, cheapest; spectral norm then yields all-zero kernels) instead of doing a QR decomposition.

  For counting parameters and checking shapes of full-size models on CPU; the model is NOT the paper's
  initialisation. Patches `keras.initializers.Orthogonal.__call__` and restores it on exit (not
  thread-safe: do not build other models concurrently).
  """
  cls = keras.initializers.Orthogonal
  original = cls.__call__
  if kind == "normal":
    replacement = keras.initializers.RandomNormal(stddev=stddev, seed=seed)
  elif kind == "zeros":
    replacement = keras.initializers.Zeros()
  else:
    raise ValueError(f"fast_init kind must be 'normal' or 'zeros', got {kind!r}")
  cls.__call__ = lambda self, shape, dtype=None: replacement(shape, dtype=dtype)
  try:
    yield
  finally:
    cls.__call__ = original


def count_parameters(model) -> int:
  """Number of trainable parameters (entries of the trainable variables) of a built model."""
  return int(sum(int(tf.size(w)) for w in model.trainable_weights))


def build_models(config: ml_collections.ConfigDict):
  """`(G, DS, DT)` for the top-level `config` (num_frames, resolution, num_classes, model.*), built.

  Raises a one-line ValueError for inconsistent model options (see `check_config`).
  """
  g, ds, dt = make_models(config)
  build_variables(g, ds, dt, config)
  return g, ds, dt
