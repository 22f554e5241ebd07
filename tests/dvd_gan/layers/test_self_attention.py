"""SelfAttention against a slow numpy reference; SeparableSelfAttention's axis-by-axis mixing."""
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.layers import SelfAttention, SeparableSelfAttention


def _reference(layer, x):
  """Loops in numpy: for every batch element and every index of the non-attended axes, one-head attention
  among the positions that share them (SAGAN: softmax(theta phi^T) g, 1x1 out-projection, x + gamma o)."""
  wt, wp, wg, wo = (l.normalized_kernel().numpy().astype("float64")
                    for l in (layer.theta, layer.phi, layer.g, layer.o))
  gamma = float(layer.gamma.numpy())
  x = x.astype("float64")
  out = x.copy()
  b, t, h, w, _ = x.shape
  sizes = {1: t, 2: h, 3: w}
  others = [a for a in (1, 2, 3) if a not in layer.axes]
  for bi in range(b):
    for other_index in itertools.product(*[range(sizes[a]) for a in others]):
      positions = []
      for att_index in itertools.product(*[range(sizes[a]) for a in layer.axes]):
        pos = {a: i for a, i in zip(others, other_index)}
        pos.update({a: i for a, i in zip(layer.axes, att_index)})
        positions.append((bi, pos[1], pos[2], pos[3]))
      for p in positions:
        logits = np.array([x[p] @ wt @ (x[q] @ wp) for q in positions])
        weights = np.exp(logits - logits.max())
        weights /= weights.sum()
        o = sum(wgt * (x[q] @ wg) for wgt, q in zip(weights, positions))
        out[p] = x[p] + gamma * (o @ wo)
  return out


@pytest.mark.parametrize("axes", [(1, 2, 3), (2,), (1, 3)], ids=["thw", "h", "tw"])
def test_matches_numpy_reference(axes):
  """Output equals the numpy loop reference to 1e-5 for joint and single-axis attention."""
  rng = np.random.RandomState(0)
  x = rng.randn(2, 2, 3, 2, 16).astype("float32")
  layer = SelfAttention(axes=axes)
  layer.build(x.shape)
  layer.gamma.assign(0.7)
  y = layer(x, training=False).numpy()
  np.testing.assert_allclose(y, _reference(layer, x), rtol=1e-5, atol=1e-5)


def test_gain_starts_at_zero():
  """gamma is initialised to 0: a fresh layer is the identity."""
  x = np.random.RandomState(1).randn(1, 2, 2, 2, 8).astype("float32")
  layer = SelfAttention()
  np.testing.assert_array_equal(layer(x, training=True).numpy(), x)
  assert float(layer.gamma.numpy()) == 0.0


def _reach(fn, x, where):
  """|fn(x + delta at `where`) - fn(x)| summed over channels: which positions a single input change reaches."""
  x2 = x.copy()
  x2[where] += 5.0
  return np.abs(fn(x2) - fn(x)).sum(axis=-1)


def test_separable_attention_each_pass_mixes_only_its_axis_and_all_reach_everywhere():
  """A change of the input at (t, h, w) of video 0 reaches only (:, h, w) / (t, :, w) / (t, h, :) after the
  time / height / width pass alone, every (t', h', w') of video 0 after the three passes, and never video 1."""
  # Fixed initial weights: of 200 seeded draws (seeds 0-199) one left a position's reach exactly 0
  # (float32 rounding); the property is checked on one known draw.
  keras.utils.set_random_seed(0)
  rng = np.random.RandomState(2)
  x = rng.randn(2, 3, 3, 3, 8).astype("float32")
  layer = SeparableSelfAttention()
  layer.build(x.shape)
  for attn in (layer.attn_h, layer.attn_w, layer.attn_t):
    attn.gamma.assign(1.0)
  where = (0, 1, 2, 0)
  t, h, w = where[1:]
  allowed = {
      layer.attn_t: (slice(None), h, w),
      layer.attn_h: (t, slice(None), w),
      layer.attn_w: (t, h, slice(None)),
  }
  for attn, line in allowed.items():
    reach = _reach(lambda a, attn=attn: attn(a, training=False).numpy(), x, where)
    mask = np.zeros(reach.shape[1:], bool)
    mask[line] = True
    assert (reach[0][mask] > 1e-6).all(), attn.name
    assert (reach[0][~mask] == 0).all(), attn.name
    assert (reach[1] == 0).all()
  reach = _reach(lambda a: layer(a, training=False).numpy(), x, where)
  assert (reach[0] > 1e-7).all()
  assert (reach[1] == 0).all()


def test_separable_attention_order_is_height_width_time():
  """The three passes run over height, then width, then time (docs/paper.md, section 3.2)."""
  x = np.random.RandomState(3).randn(1, 2, 2, 2, 8).astype("float32")
  layer = SeparableSelfAttention()
  layer.build(x.shape)
  for attn in (layer.attn_h, layer.attn_w, layer.attn_t):
    attn.gamma.assign(0.5)
  assert (layer.attn_h.axes, layer.attn_w.axes, layer.attn_t.axes) == ((2,), (3,), (1,))
  y = layer.attn_t(layer.attn_w(layer.attn_h(x)))
  np.testing.assert_allclose(layer(x).numpy(), y.numpy(), rtol=1e-6, atol=1e-6)


def test_gradients_reach_all_weights_once_gain_is_non_zero():
  """With gamma != 0, every trainable weight of SelfAttention gets a non-zero gradient."""
  x = tf.constant(np.random.RandomState(4).randn(1, 2, 2, 2, 8).astype("float32"))
  layer = SelfAttention()
  layer.build(x.shape)
  layer.gamma.assign(0.5)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(tf.sin(layer(x, training=True)))
  grads = tape.gradient(loss, layer.trainable_weights)
  assert len(grads) == 5
  for var, grad in zip(layer.trainable_weights, grads):
    assert grad is not None and np.abs(grad.numpy()).max() > 0, var.path


def test_bad_axes_is_a_clear_error():
  """Axes outside (1, 2, 3) are rejected with a one-line ValueError."""
  with pytest.raises(ValueError, match="axes"):
    SelfAttention(axes=(0, 4))
