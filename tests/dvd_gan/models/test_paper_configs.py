"""Every paper config of experiments/ builds at full size on CPU with plausible, mutually consistent
parameter counts, and the 12-frame 64x64 model runs one batch-1 forward pass (docs/paper.md, "Generator G").

Full-size models are built with `build_from_shapes` (every variable created, no op traced; checked here
against a traced build) under `fast_init`, which replaces the orthogonal initialiser (a QR decomposition
per weight) and changes no weight shape.
"""
import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import experiments
from dvd_gan.errors import UserError
from dvd_gan.models.build import (build_from_shapes, build_generator_from_shapes, count_parameters, fast_init,
                                  make_models)
from tests.dvd_gan.models.conftest import model_variables

PAPER_CONFIGS = ("kinetics600_12f_64", "kinetics600_48f_64", "kinetics600_12f_128", "kinetics600_48f_128",
                 "kinetics600_12f_256", "ucf101_16f_128")


def load_config(name, arg=None):
  return experiments.load(name if arg is None else f"{name}:{arg}")


@functools.lru_cache(maxsize=None)
def counts(name):
  """`{"G", "DS", "DT", "G_blocks"}` trainable parameter counts of a config's models (G_blocks: G's residual
  blocks), built with zero kernels."""
  c = load_config(name)
  with fast_init("zeros"):
    g, ds, dt = make_models(c)
    build_from_shapes(g, ds, dt, c)
  result = {"G": count_parameters(g), "DS": count_parameters(ds), "DT": count_parameters(dt),
            "G_blocks": sum(count_parameters(b) for b in g.blocks)}
  del g, ds, dt
  keras.backend.clear_session()
  return result


def biggan_d_count(ch, multipliers, num_classes, num_3d_blocks=0):
  """Independent count of a BigGAN discriminator: per block two 3x3 (3x3x3 if 3-D) convs and a 1x1 shortcut
  conv (every block here downsamples or changes width, except a last block of unchanged width), all with
  biases; head: linear(C) + bias and a num_classes x C projection embedding."""
  total, c_in = 0, 3
  n = len(multipliers)
  for i, m in enumerate(multipliers):
    c = ch * m
    k = 27 if i < num_3d_blocks else 9
    total += k * c_in * c + c + k * c * c + c
    if c_in != c or i < n - 1:
      total += c_in * c + c
    c_in = c
  return total + c_in + 1 + num_classes * c_in


def biggan_g_blocks_count(ch, multipliers, cond_dim, blocks_per_stage=2):
  """Independent count of G's residual part built from BigGAN blocks: per stage, blocks_per_stage - 1 blocks
  at the stage's input width without upsampling, then an upsampling block to its output width; per block
  two class-conditional BNs (bias-free gamma and beta linear maps of the cond_dim-vector, per channel),
  3x3 conv Cin -> Cout and 3x3 conv Cout -> Cout with biases, and a 1x1 skip conv with bias when the width
  or the size changes."""
  def block(c_in, c_out, up):
    n = 2 * cond_dim * c_in + 9 * c_in * c_out + c_out + 2 * cond_dim * c_out + 9 * c_out * c_out + c_out
    return n + (c_in * c_out + c_out if (c_in != c_out or up) else 0)
  total = 0
  for stage in range(1, len(multipliers)):
    c_in, c_out = ch * multipliers[stage - 1], ch * multipliers[stage]
    total += (blocks_per_stage - 1) * block(c_in, c_in, False) + block(c_in, c_out, True)
  return total


@pytest.mark.slow
def test_build_from_shapes_creates_the_variables_of_a_traced_call(traced_and_shape_built, phi="random_crop_half",
                                                                  k=20, attention=(-1,), classes=5, time_down=True):
  """`build_from_shapes` (used for the full-size counts) creates exactly the variables - paths, shapes,
  trainability - that tracing a call creates, for a small conditional config with the options that change
  shapes (phi halving the input, k > T, D attention, DT time downsampling, G separable attention); the
  shape-built models then run. (One case: a traced build costs ~10 s of CPU even at this size.)"""
  c = load_config("tiny")
  c.num_frames, c.resolution = 4, 16
  c.model.g_multipliers, c.model.ds_multipliers, c.model.dt_multipliers = (4, 2, 1), (1, 2, 4), (1, 2, 4)
  c.num_classes, c.model.dt_phi, c.model.ds_k, c.model.dt_downsample_time = classes, phi, k, time_down
  c.model.ds_attention_blocks = c.model.dt_attention_blocks = attention
  traced, shaped = traced_and_shape_built(c)
  g, ds, dt = shaped
  y = tf.constant([classes - 1], tf.int32) if classes else None
  video = g(tf.zeros([1, c.model.z_dim]), y, training=False)
  assert video.shape == (1, c.num_frames, c.resolution, c.resolution, 3)
  assert ds(video, y, training=False).shape == dt(video, y, training=False).shape == (1,)
  assert model_variables(g) == model_variables(traced[0])


@pytest.mark.parametrize("name", PAPER_CONFIGS)
def test_paper_config_builds_with_biggan_discriminator_counts(name):
  """Each paper config builds G, DS and DT at full size; DS and DT have exactly the parameter count of a
  BigGAN discriminator with the config's ch, multipliers and classes (DT's first two blocks 3-D); G's
  residual blocks are BigGAN's (not BigGAN-deep's bottlenecks) and have exactly the count of BigGAN blocks
  with the config's widths, two per stage, the whole [z; e(y)] (240) conditioning every BN."""
  c = load_config(name)
  n = counts(name)
  m = c.model
  assert m.g_block == "biggan"
  assert n["DS"] == biggan_d_count(m.d_ch, m.ds_multipliers, c.num_classes)
  assert n["DT"] == biggan_d_count(m.d_ch, m.dt_multipliers, c.num_classes, m.dt_num_3d_blocks)
  assert n["G_blocks"] == biggan_g_blocks_count(m.g_ch, m.g_multipliers, m.z_dim + m.embed_dim,
                                                m.g_blocks_per_stage)
  assert 15e6 < n["G"] < 250e6, n


def test_biggan_deep_variant_differs_only_in_the_residual_blocks():
  """Appendix C's variant (experiments/ablation_g_block.py:biggan_deep) is the 12f 64x64 config with only
  model.g_block changed; its G differs from the paper's G only in the residual blocks, whose BigGAN-deep
  bottlenecks hold far fewer parameters (16.9M against 117.2M)."""
  paper, deep = load_config("ablation_g_block", "biggan"), load_config("ablation_g_block", "biggan_deep")
  assert paper.to_dict() == load_config("kinetics600_12f_64").to_dict()
  a, b = paper.to_dict(), deep.to_dict()
  assert b["model"].pop("g_block") == "biggan_deep" and a["model"].pop("g_block") == "biggan"
  assert a == b
  with fast_init("zeros"):
    g = make_models(deep)[0]
    build_generator_from_shapes(g)
  blocks = sum(count_parameters(x) for x in g.blocks)
  n = counts("kinetics600_12f_64")
  assert count_parameters(g) - blocks == n["G"] - n["G_blocks"]
  assert (round(blocks / 1e5), round(n["G_blocks"] / 1e5)) == (169, 1172)
  with pytest.raises(UserError, match="ablation_g_block"):
    load_config("ablation_g_block", "resnet")


def test_counts_are_consistent_across_paper_configs():
  """Counts depend only on what they should: not on T (12f vs 48f at 128x128, same ch) nor on the ConvGRU
  kind; the 101-class UCF-101 model differs from the 600-class Kinetics one at 128x128 exactly by the class
  embeddings (G: 499 x 120; D: 499 x its last width); G at ch 128 has 3-4x the parameters of G at ch 64
  (widths x2, weights ~x4, 64x64); the D of 48f 64x64 equals that of 12f 64x64."""
  k12, k48 = counts("kinetics600_12f_128"), counts("kinetics600_48f_128")
  assert k12 == k48
  ucf = counts("ucf101_16f_128")
  c = load_config("ucf101_16f_128")
  last = c.model.d_ch * c.model.ds_multipliers[-1]
  assert k12["G"] - ucf["G"] == (600 - 101) * c.model.embed_dim
  assert k12["DS"] - ucf["DS"] == (600 - 101) * last
  assert k12["DT"] - ucf["DT"] == (600 - 101) * last
  g128, g64 = counts("kinetics600_12f_64"), counts("kinetics600_48f_64")
  assert 3.0 < g128["G"] / g64["G"] < 4.1
  assert (g128["DS"], g128["DT"]) == (g64["DS"], g64["DT"])


@pytest.mark.parametrize("ablation,settings", [("ablation_k", ("1", "2", "8", "10", "12")),
                                               ("ablation_phi", ("avgpool2", "avgpool4", "identity",
                                                                 "random_crop_half"))])
def test_ablations_change_only_k_or_phi(ablation, settings):
  """Every Figure 7 ablation setting is the 12-frame 64x64 Kinetics-600 config with only model.ds_k or
  model.dt_phi changed, so its models have the same weights: the models' configs are identical apart from
  k / phi, and building one setting (DS, DT) gives the 12f-64 counts."""
  base = load_config("kinetics600_12f_64")
  key = "ds_k" if ablation == "ablation_k" else "dt_phi"
  for arg in settings:
    c = load_config(ablation, arg)
    assert str(getattr(c.model, key)) == arg
    a, b = c.to_dict(), base.to_dict()
    a["model"].pop(key), b["model"].pop(key)
    a["train"].pop("num_steps", None), b["train"].pop("num_steps", None)
    assert a == b, arg
    models = make_models(c)
    for model, ref in zip(models, make_models(base)):
      mc, rc = model.get_config(), ref.get_config()
      mc.pop("k" if key == "ds_k" else "phi", None), rc.pop("k" if key == "ds_k" else "phi", None)
      assert mc == rc
  c = load_config(ablation, settings[-1])
  with fast_init("zeros"):
    g, ds, dt = make_models(c)
    build_from_shapes(g, ds, dt, c)
  assert (count_parameters(ds), count_parameters(dt)) == (counts("kinetics600_12f_64")["DS"],
                                                          counts("kinetics600_12f_64")["DT"])
  with pytest.raises(UserError, match="ablation"):
    load_config(ablation, "3")


@pytest.mark.slow
def test_kinetics_12f_64_batch1_forward():
  """The full-size 12-frame 64x64 Kinetics-600 models run one batch-1 inference forward pass on CPU
  (~10 s here): G gives a finite [1, 12, 64, 64, 3] video in [-1, 1], DS and DT one finite score each."""
  c = load_config("kinetics600_12f_64")
  z = tf.random.stateless_normal([1, 120], seed=[0, 1])
  y = tf.constant([599], tf.int32)
  with fast_init("normal"):  # variables are created by the first (eager) calls
    g, ds, dt = make_models(c)
    video = g(z, y, training=False)
    scores = [d(video, y, training=False, seed=tf.constant([0, 2])) for d in (ds, dt)]
  assert video.shape == (1, 12, 64, 64, 3)
  v = video.numpy()
  assert np.all(np.isfinite(v)) and np.abs(v).max() <= 1.0 and v.std() > 0
  for s in scores:
    assert s.shape == (1,) and np.all(np.isfinite(s.numpy()))
  assert count_parameters(g) == counts("kinetics600_12f_64")["G"]
