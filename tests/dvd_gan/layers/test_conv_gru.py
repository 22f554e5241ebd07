"""ConvGRU and MultiplicativeConvGRU against a numpy reference of the docs/paper.md equations."""
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.layers import ConvGRU, MultiplicativeConvGRU, power_iteration


def _conv_same(x, k):
  """numpy 'same' 2-D convolution (cross-correlation, as tf.nn.conv2d): x [N,H,W,Ci], k [kh,kw,Ci,Co]."""
  kh, kw = k.shape[:2]
  n, h, w, _ = x.shape
  ph, pw = (kh - 1) // 2, (kw - 1) // 2
  xp = np.pad(x, ((0, 0), (ph, kh - 1 - ph), (pw, kw - 1 - pw), (0, 0)))
  out = np.zeros((n, h, w, k.shape[-1]))
  for i in range(kh):
    for j in range(kw):
      out += np.einsum("nhwc,co->nhwo", xp[:, i:i + h, j:j + w], k[i, j])
  return out


def _sigmoid(a):
  return 1.0 / (1.0 + np.exp(-a))


def _reference(layer, x, h0, candidate):
  """docs/paper.md: r = sig(W_r*[h;x]+b_r), u = sig(W_u*[h;x]+b_u), c = act(W_c*[x; r.h]+b_c),
  h = u.h + (1-u).c, with the layer's normalised kernels."""
  params = {}
  for name, conv in (("r", layer.conv_r), ("u", layer.conv_u), ("c", layer.conv_c)):
    params[name] = (conv.normalized_kernel().numpy().astype("float64"), conv.bias.numpy().astype("float64"))
  h = h0.astype("float64")
  outs = []
  for t in range(x.shape[1]):
    xt = x[:, t].astype("float64")
    hx = np.concatenate([h, xt], axis=-1)
    r = _sigmoid(_conv_same(hx, params["r"][0]) + params["r"][1])
    u = _sigmoid(_conv_same(hx, params["u"][0]) + params["u"][1])
    c = candidate(_conv_same(np.concatenate([xt, r * h], axis=-1), params["c"][0]) + params["c"][1])
    h = u * h + (1 - u) * c
    outs.append(h)
  return np.stack(outs, axis=1)


@pytest.mark.parametrize("cls,candidate", [(ConvGRU, np.tanh), (MultiplicativeConvGRU,
                                                                 lambda a: np.maximum(a, 0.0))],
                         ids=["standard", "multiplicative"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
def test_matches_numpy_reference(cls, candidate, with_state):
  """Every hidden state h_1..h_T equals the numpy reference of the paper's equations (1e-5), with the
  state started at zeros or at a given initial state."""
  rng = np.random.RandomState(0)
  x = rng.randn(2, 4, 4, 3, 3).astype("float32")
  filters = 5
  h0 = rng.randn(2, 4, 3, filters).astype("float32") if with_state else np.zeros((2, 4, 3, filters), "f")
  layer = cls(filters, kernel_size=3)
  layer.build(x.shape)
  for conv in (layer.conv_r, layer.conv_u, layer.conv_c):  # non-zero biases so they are checked too
    conv.bias.assign(rng.randn(filters).astype("float32") * 0.5)
  y = layer(x, initial_state=h0 if with_state else None, training=False).numpy()
  assert y.shape == (2, 4, 4, 3, filters)
  np.testing.assert_allclose(y, _reference(layer, x, h0, candidate), rtol=1e-5, atol=1e-5)


def test_power_iteration_runs_once_per_forward_pass():
  """A training call over T steps updates each kernel's u by exactly one power iteration (not T)."""
  rng = np.random.RandomState(1)
  x = rng.randn(1, 5, 3, 3, 2).astype("float32")
  layer = MultiplicativeConvGRU(4)
  layer.build(x.shape)
  conv = layer.conv_c
  # A Gaussian kernel: with the orthogonal init every singular value is 1 and any iteration count agrees.
  conv.kernel.assign(rng.randn(*conv.kernel.shape).astype("float32"))
  w = tf.reshape(conv.kernel.value, [-1, 4])
  _, u_once = power_iteration(w, tf.constant(conv.u.numpy()))
  layer(x, training=True)
  _, u_twice = power_iteration(w, u_once)
  assert np.abs(u_twice.numpy() - u_once.numpy()).max() > 1e-4  # the check below can tell 1 from T
  np.testing.assert_allclose(conv.u.numpy(), u_once.numpy(), rtol=1e-6, atol=1e-6)


def test_rejects_wrong_state_shape():
  """An initial state with the wrong channel count is a one-line ValueError naming the problem."""
  x = np.zeros((1, 2, 3, 3, 2), "float32")
  with pytest.raises(ValueError, match="initial_state"):
    ConvGRU(4)(x, initial_state=np.zeros((1, 3, 3, 3), "float32"))
