"""Fixtures of the model tests."""
import keras
import pytest

from dvd_gan.models.build import build_from_shapes, build_variables, make_models


def model_variables(model):
  """Sorted (path, shape, trainable) of every variable of `model`."""
  return sorted((w.path, tuple(w.shape), w.trainable) for w in model.weights)


@pytest.fixture
def traced_and_shape_built():
  """`build(config) -> (traced, shaped)`: (G, DS, DT) built by tracing a call (`build_variables`) and built
  from shapes alone (`build_from_shapes`); asserts that both have exactly the same variables."""
  def build(config):
    traced = make_models(config)
    build_variables(*traced, config)
    keras.backend.clear_session()
    shaped = make_models(config)
    build_from_shapes(*shaped, config)
    for a, b in zip(traced, shaped):
      assert model_variables(a) == model_variables(b), a.name
    return traced, shaped
  return build
