"""Whole-model `.keras` files for G, DS and DT: `build_from_config` that creates every variable.

Keras 3's `keras.models.load_model` rebuilds a subclassed model from `get_config()`, then calls
`build_from_config(get_build_config())` and only then loads the weights. The default `build` cannot build
a model whose `call` takes `(x, y)`, and loading then silently skips the weights (G came back with fresh
random weights). `build_from_config` here traces (does not run) a batch-1 inference call with the shape
recorded at the first call, so every variable exists before the weights are read and nothing stateful moves
(no spectral-norm `u` or moving-statistics update, no seed drawn).
"""
import tensorflow as tf


def trace_inference_call(model, input_shape) -> None:
  """Creates every variable of `model` (`call(x, y=None, training=None)`, attribute `num_classes`, 0 =
  unconditional) by tracing, not running, a batch-1 inference call on x of `input_shape` (its batch
  dimension is replaced by 1) and, when conditional, y int32 [1]. Variables are created and initialised
  eagerly, but nothing stateful moves and no convolution runs."""
  x_spec = tf.TensorSpec([1, *input_shape[1:]], tf.float32)
  if model.num_classes > 0:
    tf.function(lambda x, y: model(x, y, training=False)).get_concrete_function(
        x_spec, tf.TensorSpec([1], tf.int32))
  else:
    tf.function(lambda x: model(x, None, training=False)).get_concrete_function(x_spec)


class BuildByTracing:
  """Mixin for a `keras.Model` with `call(x, y=None, training=None, ...)` and a `num_classes` attribute
  (0 = unconditional); the build config is Keras's default `{"input_shape": x.shape}`."""

  def build_from_config(self, config):
    shape = config.get("input_shape") if config else None
    if shape is not None:
      trace_inference_call(self, shape)
