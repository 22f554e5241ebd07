"""Every layer round-trips through get_config/from_config and save_weights/load_weights (incl. `u` and the
moving statistics) with identical outputs."""
import keras
import numpy as np
import pytest

from dvd_gan import layers as L

_RNG = np.random.RandomState(0)
_VIDEO = _RNG.randn(2, 2, 4, 4, 8).astype("float32")
_FRAMES = _VIDEO[:, 0]
_COND = _RNG.randn(2, 3).astype("float32")
_IDS = np.array([1, 6, 2], dtype="int32")

_CASES = {
    "SNDense": (lambda: L.SNDense(5, use_bias=False), (_FRAMES,)),
    "SNConv2D": (lambda: L.SNConv2D(4, 3, strides=2, padding="valid"), (_FRAMES,)),
    "SNConv3D": (lambda: L.SNConv3D(3, (1, 3, 3)), (_VIDEO,)),
    "SNEmbedding": (lambda: L.SNEmbedding(7, 4), (_IDS,)),
    "BatchNorm": (lambda: L.BatchNorm(momentum=0.5), (_VIDEO,)),
    "ClassConditionalBatchNorm": (lambda: L.ClassConditionalBatchNorm(momentum=0.5, use_bias=True),
                                  (_VIDEO, _COND)),
    "ConvGRU": (lambda: L.ConvGRU(3, kernel_size=1), (_VIDEO,)),
    "MultiplicativeConvGRU": (lambda: L.MultiplicativeConvGRU(3), (_VIDEO,)),
    "SelfAttention": (lambda: L.SelfAttention(axes=(1, 3)), (_VIDEO,)),
    "SeparableSelfAttention": (lambda: L.SeparableSelfAttention(), (_VIDEO,)),
    "BigGANGBlock": (lambda: L.BigGANGBlock(4, bn_momentum=0.5), (_VIDEO, _COND)),
    "BigGANDeepGBlock": (lambda: L.BigGANDeepGBlock(4, bn_momentum=0.5), (_VIDEO, _COND)),
    "DBlock": (lambda: L.DBlock(6, preactivation=False), (_FRAMES,)),
    "DBlock3D": (lambda: L.DBlock3D(6, downsample_time=True), (_VIDEO,)),
}


class _Holder(keras.Model):
  """Keras 3 layers have no save_weights: a one-layer model carries the `.weights.h5` round trip."""

  def __init__(self, layer):
    super().__init__()
    self.layer = layer
    self.built = True


def _perturb(layer):
  """Moves every weight away from its initial value so a lost weight (u, gamma, moving stats) shows."""
  rng = np.random.RandomState(1)
  for var in layer.weights:
    var.assign(var.numpy() + 0.1 * np.asarray(rng.randn(*var.shape), "float32"))


@pytest.mark.parametrize("name", sorted(_CASES))
def test_config_and_weights_round_trip(name, tmp_path):
  """from_config(get_config()) + load_weights of a `.weights.h5` file gives the same weights (including u
  and moving statistics) and identical inference and training outputs; keras serialisation finds the class."""
  make, inputs = _CASES[name]
  layer = make()
  layer(*inputs, training=True)
  _perturb(layer)
  layer(*inputs, training=True)  # u and moving statistics move
  path = str(tmp_path / "layer.weights.h5")
  _Holder(layer).save_weights(path)

  clone = type(layer).from_config(layer.get_config())
  clone(*inputs, training=False)  # build
  _Holder(clone).load_weights(path)
  assert [w.path.split("/", 1)[1] for w in clone.weights] == [w.path.split("/", 1)[1] for w in layer.weights]
  for a, b in zip(layer.weights, clone.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
  np.testing.assert_array_equal(clone(*inputs, training=False).numpy(), layer(*inputs, training=False).numpy())
  np.testing.assert_allclose(clone(*inputs, training=True).numpy(), layer(*inputs, training=True).numpy(),
                             rtol=1e-6, atol=1e-6)

  restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
  assert type(restored) is type(layer)
  assert restored.get_config() == layer.get_config()
