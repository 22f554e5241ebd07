"""Tests of the Keras I3D architecture (eval/i3d.py) that need no pretrained weights."""
import numpy as np
import pytest
import tensorflow as tf

from eval import i3d
from eval.errors import EvalError
from eval.networks import I3DNetwork


@pytest.fixture(scope="module")
def model():
  return i3d.build_i3d(400)


def _random_weights(model, seed=0):
  rng = np.random.default_rng(seed)
  weights = {}
  for name, var in i3d.i3d_variable_map(model).items():
    shape = tuple(var.shape)
    if name.endswith("moving_variance"):
      weights[name] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
    elif name.endswith("/w"):
      fan_in = int(np.prod(shape[:-1]))
      weights[name] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    else:
      weights[name] = (rng.standard_normal(shape) * 0.1).astype(np.float32)
  return weights


def test_variable_names_and_shapes_follow_deepmind(model):
  """Every variable carries DeepMind's kinetics-i3d name and shape (230 in all, batch norm without gamma)."""
  mapping = i3d.i3d_variable_map(model)
  assert len(mapping) == 230  # 57 conv units x (w, beta, moving_mean, moving_variance) + logits w, b
  assert tuple(mapping["Conv3d_1a_7x7/conv_3d/w"].shape) == (7, 7, 7, 3, 64)
  assert tuple(mapping["Mixed_3b/Branch_1/Conv3d_0b_3x3/conv_3d/w"].shape) == (3, 3, 3, 96, 128)
  assert tuple(mapping["Mixed_5c/Branch_3/Conv3d_0b_1x1/batch_norm/moving_variance"].shape) == (128,)
  assert tuple(mapping["Logits/Conv3d_0c_1x1/conv_3d/w"].shape) == (1, 1, 1, 1024, 400)
  assert tuple(mapping["Logits/Conv3d_0c_1x1/conv_3d/b"].shape) == (400,)
  assert not [v for v in model.weights if "gamma" in v.path]
  assert len(model.weights) == 230


def test_endpoints_are_named_layers_with_reference_channels(model):
  """All reference end points are layers; Mixed_3b has 256 channels, Mixed_4f 832, Mixed_5c 1024."""
  for name in i3d.VALID_ENDPOINTS + ("avgpool",):
    model.get_layer(name)
  sub = i3d.i3d_endpoints(model, ["Mixed_3b", "Mixed_4f", "Mixed_5c"])
  out = sub(tf.zeros([1, 8, 32, 32, 3]))
  assert out["Mixed_3b"].shape[-1] == 256
  assert out["Mixed_4f"].shape[-1] == 832
  assert out["Mixed_5c"].shape[-1] == 1024
  with pytest.raises(EvalError, match="unknown I3D end point"):
    i3d.i3d_endpoints(model, ["Mixed_9z"])


@pytest.mark.parametrize("frames", [1, 7, 8, 9, 16, 17, 25])
def test_same_padding_gives_ceil_strides_in_time(model, frames):
  """TF SAME padding: Mixed_5c has ceil(T / 8) time steps and the first conv ceil(T / 2), ceil(32 / 2) pixels."""
  sub = i3d.i3d_endpoints(model, ["Conv3d_1a_7x7", "Mixed_5c"])
  out = sub(tf.zeros([1, frames, 32, 32, 3]))
  assert out["Conv3d_1a_7x7"].shape[1:4] == (-(-frames // 2), 16, 16)
  assert out["Mixed_5c"].shape[1] == i3d.i3d_mixed_5c_frames(frames) == -(-frames // 8)


def test_unit3d_is_conv_then_batch_norm_eps_1e3_without_scale_then_relu():
  """Unit3D computes relu((conv(x) - mean) / sqrt(var + 1e-3) + beta) with a bias-free SAME conv."""
  unit = i3d.Unit3D(4, (3, 3, 3), (2, 2, 2))
  x = tf.random.stateless_normal([1, 5, 6, 7, 2], seed=[1, 2])
  unit(x)
  rng = np.random.default_rng(3)
  kernel = rng.standard_normal((3, 3, 3, 2, 4)).astype(np.float32)
  beta, mean = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
  var = rng.uniform(0.001, 0.01, 4).astype(np.float32)  # small, so that epsilon matters
  unit.conv_3d.kernel.assign(kernel)
  unit.batch_norm.beta.assign(beta)
  unit.batch_norm.moving_mean.assign(mean)
  unit.batch_norm.moving_variance.assign(var)
  conv = tf.nn.conv3d(x, kernel, strides=[1, 2, 2, 2, 1], padding="SAME")
  expected = tf.nn.relu((conv - mean) / np.sqrt(var + 1e-3) + beta)
  np.testing.assert_allclose(unit(x).numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)
  assert unit(x).shape == (1, 3, 3, 4, 4)


def test_layers_round_trip_through_get_config():
  """Unit3D, InceptionBlock and I3DLogits rebuild from get_config with the same hyper-parameters."""
  for layer in (i3d.Unit3D(8, (3, 1, 1), (1, 2, 2), name="u"), i3d.InceptionBlock((1, 2, 3, 4, 5, 6), name="m"),
                i3d.I3DLogits(600, name="Logits")):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_min_frames_is_nine(model):
  """min_frames = 9, and 9 frames (the minimum) give finite logits. What the raw graph does below 9 frames
  is not defined (Mixed_5c has one time step and the [2, 7, 7] VALID pool no window): the user-facing check
  is I3DNetwork's refusal, tested below."""
  assert i3d.i3d_min_frames() == 9
  assert I3DNetwork.min_frames == 9
  out = model(tf.zeros([1, 9, 224, 224, 3]))
  assert out["logits"].shape == (1, 400) and out["avgpool"].shape == (1, 1024)
  assert np.all(np.isfinite(out["logits"].numpy()))


def test_network_rejects_short_videos_with_min_frames(model):
  """An I3D FeatureNetwork raises EvalError naming 9 for an 8-frame video, before any forward pass."""
  net = I3DNetwork("i3d-kinetics-400", _random_weights(model), "0" * 64, "random")
  with pytest.raises(EvalError, match="at least 9 frames"):
    net.features(np.zeros([1, 8, 224, 224, 3], np.uint8), "logits")


def test_assign_rejects_missing_or_misshaped_variables(model):
  """Weights lacking a variable, or with a wrong shape, raise EvalError naming it."""
  weights = _random_weights(model)
  missing = dict(weights)
  del missing["Mixed_4d/Branch_2/Conv3d_0b_3x3/conv_3d/w"]
  with pytest.raises(EvalError, match="lack 1 I3D variable"):
    i3d.assign_i3d_weights(model, missing)
  wrong = dict(weights)
  wrong["Conv3d_2b_1x1/conv_3d/w"] = np.zeros((1, 1, 1, 64, 65), np.float32)
  with pytest.raises(EvalError, match="Conv3d_2b_1x1/conv_3d/w"):
    i3d.assign_i3d_weights(model, wrong)


def test_folded_batch_norm_model_gives_the_same_features(model):
  """The inference model with batch norm folded into the convolutions matches the literal model."""
  weights = _random_weights(model, seed=5)
  i3d.assign_i3d_weights(model, weights)
  folded = i3d.build_i3d(400, fold_batch_norm=True)
  i3d.assign_i3d_weights(folded, weights)
  assert not [v for v in folded.weights if "moving" in v.path]
  x = tf.random.stateless_uniform([1, 9, 64, 64, 3], seed=[3, 3], minval=-1.0, maxval=1.0)
  names = ["Conv3d_1a_7x7", "Mixed_4f", "avgpool"]
  want = i3d.i3d_endpoints(model, names)(x)
  got = i3d.i3d_endpoints(folded, names)(x)
  for name in names:
    np.testing.assert_allclose(got[name].numpy(), want[name].numpy(), rtol=2e-3, atol=2e-3 * float(
        np.abs(want[name].numpy()).max()))
