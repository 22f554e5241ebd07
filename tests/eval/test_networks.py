"""Tests of the FeatureNetwork contract (eval/networks.py): preprocessing, layers, labels, errors."""
import numpy as np
import pytest
import tensorflow as tf

from eval import i3d
from eval.errors import EvalError
from eval.networks import (NETWORK_NAMES, I3DNetwork, class_names, cpu_parts, part_sizes, resize_bilinear_tf1,
                           top_classes)


@pytest.fixture(scope="module")
def random_weights():
  """Seeded random I3D weights (the contract does not depend on the weights' values)."""
  rng = np.random.default_rng(0)
  weights = {}
  for name, var in i3d.i3d_variable_map(i3d.build_i3d(400)).items():
    shape = tuple(var.shape)
    if name.endswith("moving_variance"):
      weights[name] = np.ones(shape, np.float32)
    elif name.endswith("/w"):
      weights[name] = (rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[:-1]))).astype(np.float32)
    else:
      weights[name] = np.zeros(shape, np.float32)
  return weights


@pytest.fixture(scope="module")
def net(random_weights):
  return I3DNetwork("i3d-kinetics-400", random_weights, "0" * 64, "random")


def _tf1_bilinear_reference(image, size):
  """TF1 resize_bilinear without half-pixel centres: src = dst * in / out, edges clamped."""
  h, w = image.shape[:2]
  out = np.zeros((size, size, image.shape[2]), np.float64)
  for i in range(size):
    y = i * h / size
    y0 = int(np.floor(y))
    y1, fy = min(y0 + 1, h - 1), y - y0
    for j in range(size):
      x = j * w / size
      x0 = int(np.floor(x))
      x1, fx = min(x0 + 1, w - 1), x - x0
      top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
      bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
      out[i, j] = top * (1 - fy) + bottom * fy
  return out


def test_i3d_preprocess_is_tf1_bilinear_then_scaled_to_minus_one_one(net):
  """Frames are resized with TF1 bilinear (no half-pixel centres) to 224x224, then x / 127.5 - 1."""
  rng = np.random.default_rng(1)
  video = rng.integers(0, 256, (1, 2, 50, 70, 3)).astype(np.uint8)
  out = net.preprocess(video).numpy()
  assert out.shape == (1, 2, 224, 224, 3)
  expected = _tf1_bilinear_reference(video[0, 1].astype(np.float64), 224) / 127.5 - 1
  np.testing.assert_allclose(out[0, 1], expected, atol=1e-4)
  full = net.preprocess(np.array([0, 255], np.uint8)[:, None, None, None, None] * np.ones([2, 1, 224, 224, 3],
                                                                                        np.uint8)).numpy()
  assert full[0].min() == full[0].max() == -1.0 and full[1].min() == full[1].max() == 1.0
  frames = tf.constant(video[0], tf.float32)
  np.testing.assert_allclose(resize_bilinear_tf1(frames, 224).numpy()[1], expected * 127.5 + 127.5, atol=1e-3)


def test_features_are_float32_per_layer_and_traceable_in_tf_function(net):
  """features() gives [B, 400] logits and [B, 1024] avgpool, the same inside a tf.function with fixed batch."""
  video = tf.cast(tf.random.stateless_uniform([2, 9, 112, 112, 3], seed=[7, 7], maxval=255.0), tf.uint8)
  eager = net.all_features(video)
  graph = tf.function(lambda x: net.features(x, "avgpool"), input_signature=[tf.TensorSpec([2, 9, 112, 112, 3],
                                                                                           tf.uint8)])
  assert eager["logits"].shape == (2, 400) and eager["logits"].dtype == tf.float32
  assert eager["avgpool"].shape == (2, 1024)
  np.testing.assert_allclose(graph(video).numpy(), eager["avgpool"].numpy(), rtol=1e-4, atol=1e-5)
  with pytest.raises(EvalError, match="no feature layer 'fc7'"):
    net.features(video, "fc7")
  with pytest.raises(EvalError, match=r"expects videos \[B, T, H, W, 3\]"):
    net.features(np.zeros([9, 112, 112, 3], np.uint8), "logits")


def test_forward_in_parts_gives_each_video_the_features_of_the_whole_batch(net, random_weights):
  """A batch forwarded in 3 parts side by side (CPU, one thread per op) equals the one-part forward per video."""
  built = I3DNetwork("i3d-kinetics-400", random_weights, "0" * 64, "random", parts=3)
  assert built.parts == 3 and net.parts == cpu_parts()
  video = tf.cast(tf.random.stateless_uniform([5, 9, 64, 64, 3], seed=[3, 4], maxval=255.0), tf.uint8)
  whole = net.in_parts(1).all_features(video)
  split = net.in_parts(3).all_features(video)
  assert net.in_parts(3).model is net.model
  for layer in ("logits", "avgpool"):
    assert split[layer].shape == whole[layer].shape
    np.testing.assert_allclose(split[layer].numpy(), whole[layer].numpy(), rtol=1e-4, atol=1e-5)
  assert part_sizes(5, 3) == [2, 2, 1] and part_sizes(2, 3) == [1, 1] and part_sizes(1, 2) == [1]


def test_contract_attributes():
  """NETWORK_NAMES and the I3D network's contract attributes are as documented."""
  assert NETWORK_NAMES == ("i3d-kinetics-400", "i3d-kinetics-600", "c3d-ucf101")
  assert I3DNetwork.layers == ("logits", "avgpool")
  assert I3DNetwork.min_frames == 9 and I3DNetwork.frames is None


def test_label_maps():
  """Kinetics-400 has 400 distinct names with "playing cricket" at 227; Kinetics-600 has 600 distinct names."""
  k400, k600 = class_names(400), class_names(600)
  assert len(k400) == len(set(k400)) == 400 and k400[227] == "playing cricket"
  assert k400[0] == "abseiling" and k400[-1] == "zumba"
  assert len(k600) == len(set(k600)) == 600 and "playing cricket" in k600
  logits = np.zeros(400)
  logits[227] = 10.0
  assert top_classes(logits, 1)[0][0] == "playing cricket"
  with pytest.raises(EvalError):
    class_names(700)
