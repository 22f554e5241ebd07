"""G, DS and DT round-trip through get_config / from_config and save_weights / load_weights (`.weights.h5`),
and as whole-model `.keras` files through `keras.models.load_model`, with identical outputs (tiny widths)."""
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.models.discriminators import SpatialDiscriminator, TemporalDiscriminator
from dvd_gan.models.generator import Generator

T, RES, CLASSES = 2, 8, 4


def _make(name):
  if name == "G":
    return Generator(num_frames=T, resolution=RES, num_classes=CLASSES, ch=4, multipliers=(2, 1),
                     z_dim=6, embed_dim=5, rnn="standard", name="g")
  if name == "DS":
    return SpatialDiscriminator(num_classes=CLASSES, ch=4, multipliers=(1, 2), k=2, attention_blocks=(0,),
                                seed=3, name="ds")
  return TemporalDiscriminator(num_classes=CLASSES, ch=4, multipliers=(1, 2), phi="random_crop_half",
                               downsample_time=True, seed=4, name="dt")


def _inputs(name):
  y = tf.constant([0, 3], tf.int32)
  if name == "G":
    return (tf.random.stateless_normal([2, 6], seed=[1, 2]), y), {}
  v = tf.random.stateless_uniform([2, 4, RES, RES, 3], seed=[3, 4], minval=-1, maxval=1)
  return (v, y), {"seed": tf.constant([5, 6])}


def _perturb(model):
  """Moves every weight (incl. u, moving statistics, attention gains) away from its initial value, so a
  weight that is not saved or not restored shows in the outputs."""
  rng = np.random.RandomState(1)
  for var in model.weights:
    if "float" not in str(var.dtype):  # the SeedGenerator state
      continue
    var.assign(var.numpy() + np.asarray(0.05 * rng.randn(*var.shape), "float32"))


@pytest.mark.parametrize("name", ["G", "DS", "DT"])
def test_config_and_weights_round_trip(name, tmp_path):
  """from_config(get_config()) rebuilds the same architecture (same weight paths and shapes), and after
  load_weights of a `.weights.h5` file every weight (u, moving statistics included) is equal and the
  inference and training outputs are identical; keras serialisation finds the registered class."""
  args, kwargs = _inputs(name)
  model = _make(name)
  model(*args, training=True, **kwargs)
  _perturb(model)
  model(*args, training=True, **kwargs)  # u and moving statistics move
  path = str(tmp_path / f"{name}.weights.h5")
  model.save_weights(path)

  config = model.get_config()
  clone = type(model).from_config(config)
  assert clone.get_config() == config
  clone(*args, training=False, **kwargs)  # build
  clone.load_weights(path)
  assert [(w.path, w.shape) for w in clone.weights] == [(w.path, w.shape) for w in model.weights]
  for a, b in zip(model.weights, clone.weights):
    np.testing.assert_array_equal(np.asarray(a.numpy()), np.asarray(b.numpy()), err_msg=a.path)
  out, out_clone = model(*args, training=False, **kwargs), clone(*args, training=False, **kwargs)
  np.testing.assert_array_equal(out.numpy(), out_clone.numpy())
  out, out_clone = model(*args, training=True, **kwargs), clone(*args, training=True, **kwargs)
  np.testing.assert_allclose(out.numpy(), out_clone.numpy(), rtol=1e-6, atol=1e-6)

  restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
  assert type(restored) is type(model) and restored.get_config() == config


@pytest.mark.parametrize("name", ["G", "DS", "DT"])
def test_keras_file_round_trip(name, tmp_path):
  """`model.save("x.keras")` then `keras.models.load_model` gives the same weights and inference outputs
  without Keras's "cannot be built automatically" warning: `build_from_config` creates every variable
  before the weights are read (without it G came back with fresh random weights, silently)."""
  args, kwargs = _inputs(name)
  model = _make(name)
  model(*args, training=True, **kwargs)
  _perturb(model)
  path = str(tmp_path / f"{name}.keras")
  model.save(path)
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    loaded = keras.models.load_model(path)
  assert not [w for w in caught if "build" in str(w.message)], [str(w.message) for w in caught]
  assert type(loaded) is type(model)
  assert [(w.path, w.shape) for w in loaded.weights] == [(w.path, w.shape) for w in model.weights]
  for a, b in zip(model.weights, loaded.weights):
    np.testing.assert_array_equal(np.asarray(a.numpy()), np.asarray(b.numpy()), err_msg=a.path)
  np.testing.assert_array_equal(model(*args, training=False, **kwargs).numpy(),
                                loaded(*args, training=False, **kwargs).numpy())


def test_unconditional_generator_keras_file_round_trip(tmp_path):
  """The unconditional G (num_classes = 0, `call(z)`) is built from its `.keras` file too."""
  g = Generator(num_frames=T, resolution=RES, num_classes=0, ch=4, multipliers=(2, 1), z_dim=6,
                rnn="standard", name="g")
  z = tf.random.stateless_normal([2, 6], seed=[1, 2])
  g(z, training=False)
  _perturb(g)
  g.save(str(tmp_path / "g.keras"))
  loaded = keras.models.load_model(str(tmp_path / "g.keras"))
  np.testing.assert_array_equal(g(z, training=False).numpy(), loaded(z, training=False).numpy())


def test_loading_weights_into_another_architecture_fails(tmp_path):
  """A `.weights.h5` of one width does not silently load into a model of another width (Keras raises)."""
  args, kwargs = _inputs("DS")
  ds = _make("DS")
  ds(*args, training=False, **kwargs)
  path = str(tmp_path / "ds.weights.h5")
  ds.save_weights(path)
  other = SpatialDiscriminator(num_classes=CLASSES, ch=8, multipliers=(1, 2), k=2, attention_blocks=(0,),
                               name="ds")
  other(*args, training=False, **kwargs)
  with pytest.raises(ValueError):
    other.load_weights(path)
