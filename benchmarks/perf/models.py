"""Model pieces the benchmarks time and count: discriminator pairs, attention layers, generators, steps.

Widths are the paper's multipliers at a reduced base width `ch` (D: 128 in the paper); every builder takes
explicit sizes so that a figure names exactly what it measured.
"""
import os

import tensorflow as tf

from dvd_gan import flops as flops_lib
from dvd_gan.config import base_config
from dvd_gan.layers import SelfAttention, SeparableSelfAttention
from dvd_gan.models.build import fast_init
from dvd_gan.models.config import PAPER_D_MULTIPLIERS, set_paper_widths
from dvd_gan.models.discriminators import SpatialDiscriminator, TemporalDiscriminator

from benchmarks.perf.common import ROOT, load_file


def experiment(name):
  """`experiments/<name>.py`'s get_config()."""
  return load_file(name, os.path.join(ROOT, "experiments", f"{name}.py")).get_config()


def paper_config(frames, resolution, width_divisor=1, batch=2):
  """The paper's config for T x H x W (widths / width_divisor), unconditional data of the given size (32x32:
  the 64x64 multipliers without their last stage)."""
  c = base_config()
  c.num_frames, c.resolution, c.batch_size = int(frames), int(resolution), int(batch)
  if int(resolution) == 32:  # below the paper's sizes: the 64x64 widths without their last stage
    c.resolution = 64
    set_paper_widths(c)
    c.resolution = 32
    c.model.g_multipliers = c.model.g_multipliers[:-1]
    c.model.ds_multipliers = c.model.dt_multipliers = c.model.ds_multipliers[:-1]
  else:
    set_paper_widths(c)
  c.model.g_ch = max(1, c.model.g_ch // width_divisor)
  c.model.d_ch = max(1, c.model.d_ch // width_divisor)
  c.data.name = "synthetic"
  return c


# ---- discriminators ----------------------------------------------------------------------------------------

def discriminator_pair(k, phi, d_ch, resolution, num_classes=0, seed=0):
  """(DS with k frames, DT with phi) at the paper's multipliers for `resolution`, base width d_ch."""
  mult = PAPER_D_MULTIPLIERS[resolution] if resolution in PAPER_D_MULTIPLIERS else (2, 4, 8)
  with fast_init("normal", seed=seed):
    ds = SpatialDiscriminator(num_classes, d_ch, mult, k=k, seed=seed) if k else None
    dt = TemporalDiscriminator(num_classes, d_ch, mult, phi=phi, seed=seed + 1) if phi else None
  return ds, dt


def d_forward_backward(ds, dt, video_shape):
  """A tf.function: the gradient of sum(DS(video)) + sum(DT(video)) w.r.t. every D variable (training mode),
  its variables created; the video is a fixed random tensor."""
  video = tf.random.uniform(video_shape, -1.0, 1.0, seed=5)
  seed = tf.constant([3, 4], tf.int32)
  models = [m for m in (ds, dt) if m is not None]
  for m in models:
    m(video[:1], None, training=False)  # create the variables

  def step():
    variables = [v for m in models for v in m.trainable_variables]
    with tf.GradientTape() as tape:
      loss = 0.0
      for m in models:
        loss += tf.reduce_sum(m(video, None, training=True, seed=seed))
    return tape.gradient(loss, variables)

  fn = tf.function(step)
  return fn, flops_lib.count_flops(fn)


def pixels(k, phi, t, h, w):
  """Pixels a DS(k) + DT(phi) pair sees per video (the paper's cost argument): k*H*W + T*(H/f)*(W/f)."""
  f = {"avgpool2": 2, "avgpool4": 4, "identity": 1, "random_crop_half": 2, None: 0}[phi]
  ds = min(k, t) * h * w if k else 0
  dt = t * (h // f) * (w // f) if f else 0
  return ds + dt


# ---- attention ---------------------------------------------------------------------------------------------

def attention_forward_backward(kind, shape):
  """tf.function: gradient of sum(attention(x)) w.r.t. x and the layer's variables; kind "full" (one
  SelfAttention over all T*H*W positions) or "separable" (height, width, time)."""
  layer = SelfAttention(axes=(1, 2, 3)) if kind == "full" else SeparableSelfAttention()
  layer.build(shape)
  x = tf.random.normal(shape, seed=6)

  def step():
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = tf.reduce_sum(layer(x, training=True))
    return tape.gradient(y, [x] + layer.trainable_variables)

  fn = tf.function(step)
  return fn, flops_lib.count_flops(fn)


def attention_entries(kind, t, h, w):
  """Attention weights stored per map: (THW)^2 for full attention, THW(H + W + T) for the separable one."""
  n = t * h * w
  return n * n if kind == "full" else n * (h + w + t)
