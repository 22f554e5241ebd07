"""Tests of the C3D network and TGAN's preprocessing (eval/c3d.py) on weight files the tests write."""
import numpy as np
import pytest
import tensorflow as tf

from eval import c3d
from eval.errors import EvalError
from eval.networks import get_network


def _keys_cubic(x, a=-0.75):
  """Keys' cubic convolution kernel W(x) (the piecewise form, as in OpenCV's documentation)."""
  x = abs(x)
  if x <= 1:
    return (a + 2) * x**3 - (a + 3) * x**2 + 1
  if x < 2:
    return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
  return 0.0


@pytest.mark.parametrize("size_in,size_out", [(64, 128), (160, 128), (128, 128), (7, 5)])
def test_cubic_resize_matrix_is_opencv_inter_cubic(size_in, size_out):
  """Each output pixel weighs inputs by W(src - j), src = (i + 0.5) * in / out - 0.5, borders replicated."""
  matrix = c3d.cubic_resize_matrix(size_in, size_out)
  expected = np.zeros((size_out, size_in))
  for i in range(size_out):
    src = (i + 0.5) * size_in / size_out - 0.5
    for j in range(int(np.floor(src)) - 1, int(np.floor(src)) + 3):
      expected[i, min(max(j, 0), size_in - 1)] += _keys_cubic(src - j)
  np.testing.assert_allclose(matrix, expected, atol=1e-6)
  np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-6)
  if size_in == size_out:
    np.testing.assert_allclose(matrix, np.eye(size_in), atol=1e-6)


def test_mean_clip_is_tgan_crop_of_mean2():
  """mean2's [3, 16, 128, 171] clip keeps columns 21:149, then the centre 112 (8:120): [16, 112, 112, 3] BGR."""
  mean = np.arange(3 * 16 * 128 * 171, dtype=np.float64).reshape(1, 3, 16, 128, 171)
  clip = c3d.c3d_mean_clip(mean)
  assert clip.shape == (16, 112, 112, 3)
  np.testing.assert_array_equal(clip, mean[0, :, :, 8:120, 29:141].transpose(1, 2, 3, 0))
  with pytest.raises(EvalError, match="mean clip"):
    c3d.c3d_mean_clip(np.zeros(10))


def test_preprocess_flips_to_bgr_subtracts_mean_and_crops_centre():
  """A 128x128 video (resize is then the identity) becomes video[..., ::-1][8:120, 8:120] - mean."""
  rng = np.random.default_rng(0)
  video = rng.integers(0, 256, (2, 16, 128, 128, 3)).astype(np.uint8)
  mean = rng.uniform(80, 120, (16, 112, 112, 3)).astype(np.float32)
  out = c3d.c3d_preprocess(video, mean).numpy()
  expected = video[..., ::-1][:, :, 8:120, 8:120].astype(np.float32) - mean
  np.testing.assert_allclose(out, expected, atol=1e-3)


def test_channels_first_flatten_matches_chainer_order():
  """fc6 sees pool5 flattened as [B, C, T, H, W] (Chainer's layout), not TF's [B, T, H, W, C]."""
  x = np.random.default_rng(1).standard_normal((2, 1, 4, 4, 5)).astype(np.float32)
  out = c3d.ChannelsFirstFlatten()(x).numpy()
  np.testing.assert_array_equal(out, x.transpose(0, 4, 1, 2, 3).reshape(2, -1))


def _chainer_weights(seed=0):
  """Random C3D arrays in the layout of TGAN's conv3d_deepnetA_ucf.npz (Chainer: W [out, in, ...])."""
  rng = np.random.default_rng(seed)
  arrays, c_in = {}, 3
  for name, c_out in c3d._CONVS:
    std = np.sqrt(2.0 / (27 * c_in))
    arrays[f"{name}/W"] = (rng.standard_normal((c_out, c_in, 3, 3, 3)) * std).astype(np.float32)
    arrays[f"{name}/b"] = (rng.standard_normal(c_out) * 0.01).astype(np.float32)
    c_in = c_out
  for name, (n_in, n_out) in (("fc6", (8192, 4096)), ("fc7", (4096, 4096)), ("fc8", (4096, 101))):
    arrays[f"{name}/W"] = (rng.standard_normal((n_out, n_in), np.float32) * np.float32(np.sqrt(1.0 / n_in)))
    arrays[f"{name}/b"] = (rng.standard_normal(n_out) * 0.01).astype(np.float32)
  return arrays


def test_c3d_network_loads_tgan_files_and_maps_weights(tmp_path):
  """From conv3d_deepnetA_ucf.npz + mean2.npz: kernels are the transposed Chainer arrays, 16 frames give
  [B, 101] logits and [B, 4096] fc7, other lengths and bad sha256 raise EvalError."""
  arrays = _chainer_weights()
  np.savez(tmp_path / "conv3d_deepnetA_ucf.npz", **arrays)
  np.savez(tmp_path / "mean2.npz", mean=np.full((3, 16, 128, 171), 100.0, np.float32))
  net = get_network("c3d-ucf101", str(tmp_path))
  assert (net.num_classes, net.frames, net.min_frames) == (101, 16, 16)
  np.testing.assert_array_equal(net.model.get_layer("conv2a").kernel.numpy(),
                                arrays["conv2a/W"].transpose(2, 3, 4, 1, 0))
  np.testing.assert_array_equal(net.model.get_layer("fc6").kernel.numpy(), arrays["fc6/W"].T)
  video = tf.random.stateless_uniform([1, 16, 64, 64, 3], seed=[5, 6], maxval=255.0)
  feats = net.all_features(video)
  assert feats["logits"].shape == (1, 101) and feats["fc7"].shape == (1, 4096)
  assert np.all(np.isfinite(feats["logits"].numpy())) and np.all(feats["fc7"].numpy() >= 0)
  with pytest.raises(EvalError, match="exactly 16 frames"):
    net.features(np.zeros([1, 17, 64, 64, 3], np.uint8), "logits")
  with pytest.raises(EvalError, match="sha256 mismatch"):
    get_network("c3d-ucf101", str(tmp_path / "conv3d_deepnetA_ucf.npz"), sha256="0" * 64)


def test_c3d_rejects_incomplete_weights(tmp_path):
  """A weights file missing fc8 raises EvalError naming it."""
  arrays = {f"{name}/{p}": np.zeros(1, np.float32) for name in ("conv1a", "conv2a", "conv3a", "conv3b", "conv4a",
                                                                 "conv4b", "conv5a", "conv5b", "fc6", "fc7")
            for p in "Wb"}
  np.savez(tmp_path / "conv3d_deepnetA_ucf.npz", **arrays)
  np.savez(tmp_path / "mean2.npz", mean=np.zeros((3, 16, 128, 171), np.float32))
  with pytest.raises(EvalError, match="fc8/W"):
    get_network("c3d-ucf101", str(tmp_path))
