"""Generator: shapes, range, gradients, block kinds, and the docs/paper.md pitfalls that concern G (tiny
widths)."""
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import layers as L
from dvd_gan.models.generator import Generator


def tiny_generator(num_frames=3, resolution=8, num_classes=3, multipliers=(2, 2, 1), **kwargs):
  kwargs.setdefault("ch", 4)
  kwargs.setdefault("z_dim", 6)
  kwargs.setdefault("embed_dim", 5)
  mult = multipliers[:1 + int(np.log2(resolution // 4))]
  return Generator(num_frames=num_frames, resolution=resolution, num_classes=num_classes,
                   multipliers=mult, **kwargs)


def inputs(g, batch, seed=0):
  z = tf.random.stateless_normal([batch, g.z_dim], seed=[seed, 1])
  y = tf.constant(np.arange(batch) % max(g.num_classes, 1), tf.int32) if g.num_classes else None
  return z, y


@pytest.mark.parametrize("t,res,classes,rnn", [(1, 8, 3, "multiplicative"), (3, 8, 0, "standard"),
                                               (4, 16, 5, "multiplicative")])
def test_output_shape_and_range(t, res, classes, rnn):
  """G(z, y) is [B, T, H, W, 3] float32 within [-1, 1] (tanh) for several T, H, W, in both modes."""
  g = tiny_generator(t, res, classes, rnn=rnn)
  z, y = inputs(g, 2)
  for training in (True, False):
    v = g(z, y, training=training)
    assert v.shape == (2, t, res, res, 3) and v.dtype == tf.float32
    assert np.all(np.abs(v.numpy()) <= 1.0)
    assert np.std(v.numpy()) > 0


def test_rnn_choice_selects_the_paper_cell():
  """rnn="multiplicative" uses MultiplicativeConvGRU (relu candidate), "standard" uses ConvGRU (tanh)."""
  assert type(tiny_generator(rnn="multiplicative").rnn) is L.MultiplicativeConvGRU
  assert type(tiny_generator(rnn="standard").rnn) is L.ConvGRU


CBNS_PER_BLOCK = {"biggan": 2, "biggan_deep": 4}
BLOCK_KINDS = pytest.mark.parametrize("block", ["biggan", "biggan_deep"])


@BLOCK_KINDS
def test_blocks_follow_biggan_deep_order_and_attention_precedes_last_block(block):
  """Residual blocks of the chosen kind (BigGAN's by default), two per stage (keep-resolution block at the
  stage's input width, then the upsampling block to its output width) and SeparableSelfAttention right
  before the last residual block by default."""
  g = tiny_generator(num_frames=2, resolution=16, block=block)
  assert [type(b) for b in g.blocks] == [L.G_BLOCKS[block]] * 4
  assert [b.upsample for b in g.blocks] == [False, True, False, True]
  assert [b.out_channels for b in g.blocks] == [8, 8, 8, 4]
  assert g._attention_positions == (len(g.blocks) - 1,)
  assert type(g.separable_attentions[0]) is L.SeparableSelfAttention
  assert g.get_config()["block"] == block
  assert all(type(b) is L.BigGANGBlock for b in tiny_generator().blocks)  # the default: the paper's G


def test_config_without_block_key_is_a_biggan_deep_generator():
  """A `get_config()` written before the "block" key existed rebuilds the BigGAN-deep G it described (the
  only kind then), while a config that names the block keeps it."""
  config = tiny_generator(block="biggan").get_config()
  assert type(Generator.from_config(config).blocks[0]) is L.BigGANGBlock
  del config["block"]
  legacy = Generator.from_config(config)
  assert legacy.block_kind == "biggan_deep" and type(legacy.blocks[0]) is L.BigGANDeepGBlock


def test_bn_momentum_reaches_every_batch_norm(block="biggan"):
  """`bn_momentum` sets the moving-statistics decay of every batch norm of G (the blocks' conditional ones
  and the output one) and survives get_config / from_config (the update rule itself: test_batch_norm.py)."""
  g = tiny_generator(num_frames=2, resolution=8, bn_momentum=0.5, block=block)
  z, y = inputs(g, 2)
  g(z, y, training=False)
  norms = [l for l in g._flatten_layers() if isinstance(l, (L.BatchNorm, L.ClassConditionalBatchNorm))]
  assert len(norms) == CBNS_PER_BLOCK[block] * len(g.blocks) + 1
  assert {l.momentum for l in norms} == {0.5}
  assert Generator.from_config(g.get_config()).bn_momentum == 0.5


def test_gradients_reach_every_trainable_weight(block="biggan"):
  """A loss on G's output has a nonzero gradient for every trainable variable of G (attention gains are
  set nonzero first: at their zero init, the attention projections are legitimately cut off). (The
  BigGAN-deep block's weights: test_residual_blocks.py.)"""
  g = tiny_generator(num_frames=3, resolution=8, block=block)
  z, y = inputs(g, 2)
  g(z, y, training=True)
  for w in g.trainable_weights:
    if w.path.endswith("gamma") and len(w.shape) == 0:
      w.assign(0.5)
  target = tf.random.stateless_normal([2, 3, 8, 8, 3], seed=[3, 4])
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(g(z, y, training=True) * target)
  grads = tape.gradient(loss, g.trainable_weights)
  missing = [w.path for w, gr in zip(g.trainable_weights, grads)
             if gr is None or not np.any(gr.numpy() != 0)]
  assert not missing, missing


def test_videos_of_a_batch_use_their_own_conditioning():
  """Pitfall: cond repeated in the wrong order when time is folded into batch. In inference mode (fixed
  BN statistics, after one training call moved them), G's output for video b of a batch of different
  classes and z equals G run on video b alone."""
  g = tiny_generator(num_frames=4, resolution=8, num_classes=3)
  z, y = inputs(g, 3, seed=5)
  g(z, y, training=True)  # moves the BN moving statistics away from (0, 1)
  batch = g(z, y, training=False).numpy()
  for b in range(3):
    alone = g(z[b:b + 1], y[b:b + 1], training=False).numpy()
    np.testing.assert_allclose(batch[b], alone[0], atol=1e-5)
  assert not np.allclose(batch[0], batch[1], atol=1e-3)


@BLOCK_KINDS
def test_frame_network_keeps_frames_independent_in_training_mode(block):
  """Pitfall: BN statistics pooled over time. In training mode (batch statistics), the per-frame residual
  network's output frame t does not depend on the other frames' activations: perturbing frame 0 of its
  input changes output frame 0 only. (Separable attention, which mixes time by design, is disabled.)"""
  g = tiny_generator(num_frames=4, resolution=8, num_classes=0, separable_attention_blocks=(), block=block)
  z, _ = inputs(g, 3)
  cond = g.conditioning(z)
  h = g.temporal_stem(cond, training=True)
  g.frame_network(h, cond, training=True)  # builds the blocks
  state = [w.numpy() for w in g.weights]  # training calls update u and moving stats: restore between runs
  out = g.frame_network(h, cond, training=True).numpy()
  g.set_weights(state)
  h2 = tf.concat([h[:, :1] * 3.0 + 1.0, h[:, 1:]], axis=1)
  out2 = g.frame_network(h2, cond, training=True).numpy()
  assert not np.allclose(out[:, 0], out2[:, 0], atol=1e-3)
  np.testing.assert_allclose(out[:, 1:], out2[:, 1:], atol=1e-5)


def test_conditional_bn_scale_starts_at_one():
  """Pitfall: conditional-BN scale initialised near 0. Every ClassConditionalBatchNorm of G, given a zero
  conditioning vector, is plain per-time-step batch norm (scale 1 + f(0) = 1, offset 0), not ~0."""
  g = tiny_generator(num_frames=3, resolution=8)
  z, y = inputs(g, 2)
  g(z, y, training=False)
  cbns = [l for l in g._flatten_layers() if isinstance(l, L.ClassConditionalBatchNorm)]
  assert len(cbns) == CBNS_PER_BLOCK[g.block_kind] * len(g.blocks)
  for cbn in cbns:
    t, c = cbn.moving_mean.shape
    x = tf.random.stateless_normal([4, t, 3, 3, c], seed=[1, 2]) * 2.0 + 0.5
    cond = tf.zeros([4, cbn.gamma.kernel.shape[0]])
    out = cbn(x, cond, training=True).numpy()
    mean = x.numpy().mean(axis=(0, 2, 3), keepdims=True)
    std = np.sqrt(x.numpy().var(axis=(0, 2, 3), keepdims=True) + cbn.epsilon)
    np.testing.assert_allclose(out, (x.numpy() - mean) / std, atol=1e-4)


def test_bad_arguments_raise_one_line_errors():
  """Inconsistent resolution / multipliers, an unknown RNN, and missing labels give clear ValueErrors."""
  with pytest.raises(ValueError, match="resolution"):
    Generator(num_frames=2, resolution=32, num_classes=0, ch=4, multipliers=(2, 1))
  with pytest.raises(ValueError, match="g_rnn"):
    Generator(num_frames=2, resolution=8, num_classes=0, ch=4, multipliers=(2, 1), rnn="lstm")
  with pytest.raises(ValueError, match="g_block must be one of"):
    Generator(num_frames=2, resolution=8, num_classes=0, ch=4, multipliers=(2, 1), block="resnet")
  g = tiny_generator()
  with pytest.raises(ValueError, match="pass labels y"):
    g(tf.zeros([1, g.z_dim]))
