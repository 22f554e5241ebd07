"""Keras 3 I3D: Inception-v1 inflated to 3D, RGB stream, as DeepMind's kinetics-i3d `i3d.py`.

Every end point of the reference is a layer of the same name (`Conv3d_1a_7x7`, `MaxPool3d_2a_3x3`, ...,
`Mixed_5c`, `Logits`, `Predictions`), so any of them can be read out with `i3d_endpoints`. Convolutions and
max-pooling use TensorFlow's SAME padding, batch norm has epsilon 1e-3 and an offset (beta) but no scale.
Besides the reference outputs the model returns `avgpool`: the [B, 1024] global average of `Mixed_5c`,
the feature DVD-GAN used for its FID.

Weights are exchanged as a flat dict keyed by DeepMind's variable names without the `RGB/inception_i3d/`
scope, e.g. `Mixed_3b/Branch_1/Conv3d_0b_3x3/conv_3d/w`, `.../batch_norm/beta`, `.../moving_mean`,
`.../moving_variance`, `Logits/Conv3d_0c_1x1/conv_3d/w` and `/b` (see `assign_i3d_weights`).
"""
import math

import keras
import numpy as np
import tensorflow as tf

from eval.errors import EvalError

_PACKAGE = "video_eval_i3d"

# (name, output channels of Branch_0, Branch_1 a/b, Branch_2 a/b, Branch_3) as in the reference.
_MIXED = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}

# The inception units of one Mixed block: (DeepMind name, index into the _MIXED tuple, kernel size).
_BRANCH_UNITS = (
    ("Branch_0/Conv3d_0a_1x1", 0, 1),
    ("Branch_1/Conv3d_0a_1x1", 1, 1),
    ("Branch_1/Conv3d_0b_3x3", 2, 3),
    ("Branch_2/Conv3d_0a_1x1", 3, 1),
    ("Branch_2/Conv3d_0b_3x3", 4, 3),
    ("Branch_3/Conv3d_0b_1x1", 5, 1),
)

VALID_ENDPOINTS = (
    "Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "MaxPool3d_3a_3x3",
    "Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e",
    "Mixed_4f", "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c", "Logits", "Predictions",
)

# Temporal strides of the reference (Conv3d_1a_7x7, MaxPool3d_4a_3x3, MaxPool3d_5a_2x2; the others are 1)
# and the temporal size of its final VALID average pool.
_TEMPORAL_STRIDES = (2, 2, 2)
BATCH_NORM_EPSILON = 1e-3
_LOGITS_POOL = (2, 7, 7)


def i3d_min_frames():
  """The least T whose Logits exist: SAME strides give ceil(T / 8) steps at Mixed_5c, the pool needs 2.

  Returns 9 (= 8 * (2 - 1) + 1).
  """
  stride = math.prod(_TEMPORAL_STRIDES)
  return stride * (_LOGITS_POOL[0] - 1) + 1


def i3d_mixed_5c_frames(frames):
  """Temporal size of Mixed_5c for an input of `frames` frames (SAME padding: ceil division per stride)."""
  for s in _TEMPORAL_STRIDES:
    frames = -(-frames // s)
  return frames


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Unit3D(keras.layers.Layer):
  """Conv3D (SAME, no bias) + batch norm (eps 1e-3, beta only) + ReLU: [B, T, H, W, C] -> [B, T', H', W', D].

  With `fold_batch_norm=True` (inference only) the batch norm is folded into the convolution: a SAME Conv3D
  with bias, kernel w / sqrt(var + eps), bias beta - mean / sqrt(var + eps) (see `fold_batch_norm`), which
  TensorFlow fuses with the ReLU into one kernel.
  """

  def __init__(self, output_channels, kernel_shape=(1, 1, 1), stride=(1, 1, 1), fold_batch_norm=False, **kwargs):
    super().__init__(**kwargs)
    self.output_channels = int(output_channels)
    self.kernel_shape = tuple(int(k) for k in kernel_shape)
    self.stride = tuple(int(s) for s in stride)
    self.fold_batch_norm = bool(fold_batch_norm)
    self.conv_3d = keras.layers.Conv3D(
        self.output_channels, self.kernel_shape, strides=self.stride, padding="same",
        use_bias=self.fold_batch_norm, name="conv_3d")
    self.batch_norm = None
    if not self.fold_batch_norm:
      self.batch_norm = keras.layers.BatchNormalization(
          epsilon=BATCH_NORM_EPSILON, momentum=0.999, center=True, scale=False, name="batch_norm")

  def build(self, input_shape):
    self.conv_3d.build(input_shape)
    if self.batch_norm is not None:
      self.batch_norm.build(tuple(input_shape[:-1]) + (self.output_channels,))

  def call(self, x):
    x = self.conv_3d(x)
    if self.batch_norm is not None:
      x = self.batch_norm(x, training=False)
    return tf.nn.relu(x)

  def compute_output_shape(self, input_shape):
    return self.conv_3d.compute_output_shape(input_shape)

  def get_config(self):
    config = super().get_config()
    config.update(output_channels=self.output_channels, kernel_shape=self.kernel_shape, stride=self.stride,
                  fold_batch_norm=self.fold_batch_norm)
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class InceptionBlock(keras.layers.Layer):
  """One Mixed_* block: four branches (1x1; 1x1->3x3; 1x1->3x3; 3x3 SAME max-pool->1x1) concatenated.

  [B, T, H, W, C] -> [B, T, H, W, b0 + b1b + b2b + b3].
  """

  def __init__(self, channels, fold_batch_norm=False, **kwargs):
    super().__init__(**kwargs)
    self.channels = tuple(int(c) for c in channels)
    self.fold_batch_norm = bool(fold_batch_norm)
    self.units = {}
    for unit_name, index, k in _BRANCH_UNITS:
      self.units[unit_name] = Unit3D(self.channels[index], (k, k, k), fold_batch_norm=self.fold_batch_norm,
                                     name=unit_name.replace("/", "_"))
    self.pool = keras.layers.MaxPooling3D((3, 3, 3), strides=(1, 1, 1), padding="same", name="MaxPool3d_0a_3x3")

  def build(self, input_shape):
    c = self.channels
    self.units["Branch_0/Conv3d_0a_1x1"].build(input_shape)
    self.units["Branch_1/Conv3d_0a_1x1"].build(input_shape)
    self.units["Branch_1/Conv3d_0b_3x3"].build(tuple(input_shape[:-1]) + (c[1],))
    self.units["Branch_2/Conv3d_0a_1x1"].build(input_shape)
    self.units["Branch_2/Conv3d_0b_3x3"].build(tuple(input_shape[:-1]) + (c[3],))
    self.units["Branch_3/Conv3d_0b_1x1"].build(input_shape)

  def call(self, x):
    u = self.units
    branch_0 = u["Branch_0/Conv3d_0a_1x1"](x)
    branch_1 = u["Branch_1/Conv3d_0b_3x3"](u["Branch_1/Conv3d_0a_1x1"](x))
    branch_2 = u["Branch_2/Conv3d_0b_3x3"](u["Branch_2/Conv3d_0a_1x1"](x))
    branch_3 = u["Branch_3/Conv3d_0b_1x1"](self.pool(x))
    return tf.concat([branch_0, branch_1, branch_2, branch_3], axis=-1)

  def compute_output_shape(self, input_shape):
    c = self.channels
    return tuple(input_shape[:-1]) + (c[0] + c[2] + c[4] + c[5],)

  def get_config(self):
    config = super().get_config()
    config.update(channels=self.channels, fold_batch_norm=self.fold_batch_norm)
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class I3DLogits(keras.layers.Layer):
  """Reference head: [2, 7, 7] VALID average pool, 1x1x1 conv with bias, mean over the remaining positions.

  [B, T, 7, 7, 1024] -> [B, num_classes] (for 224x224 input the spatial size after the pool is 1, so the mean
  over T, H, W equals the reference's spatial squeeze followed by the mean over time).
  """

  def __init__(self, num_classes=400, **kwargs):
    super().__init__(**kwargs)
    self.num_classes = int(num_classes)
    self.pool = keras.layers.AveragePooling3D(_LOGITS_POOL, strides=(1, 1, 1), padding="valid")
    self.conv_3d = keras.layers.Conv3D(self.num_classes, (1, 1, 1), padding="same", use_bias=True, name="conv_3d")

  def build(self, input_shape):
    self.conv_3d.build(tuple(input_shape[:-1]) + (input_shape[-1],))

  def call(self, x):
    return tf.reduce_mean(self.conv_3d(self.pool(x)), axis=[1, 2, 3])

  def compute_output_shape(self, input_shape):
    return (input_shape[0], self.num_classes)

  def get_config(self):
    config = super().get_config()
    config.update(num_classes=self.num_classes)
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class GlobalAvgPool3D(keras.layers.Layer):
  """Mean over time and space: [B, T, H, W, C] -> [B, C] (the `avgpool` feature)."""

  def call(self, x):
    return tf.reduce_mean(x, axis=[1, 2, 3])

  def compute_output_shape(self, input_shape):
    return (input_shape[0], input_shape[-1])


def build_i3d(num_classes=400, fold_batch_norm=False, name="inception_i3d"):
  """Builds the I3D functional model.

  Input: [B, T, H, W, 3] float in [-1, 1] (T >= i3d_min_frames(), reference H = W = 224).
  Outputs: dict with `logits` [B, num_classes] (time-averaged, pre-softmax), `predictions` (their softmax)
  and `avgpool` [B, 1024]. Layer names are the reference end points, plus `avgpool`.
  fold_batch_norm: inference variant whose units are conv + bias + ReLU (same outputs, faster).
  """
  fold = bool(fold_batch_norm)
  inputs = keras.Input((None, None, None, 3), name="video")
  x = Unit3D(64, (7, 7, 7), (2, 2, 2), fold, name="Conv3d_1a_7x7")(inputs)
  x = keras.layers.MaxPooling3D((1, 3, 3), (1, 2, 2), padding="same", name="MaxPool3d_2a_3x3")(x)
  x = Unit3D(64, (1, 1, 1), fold_batch_norm=fold, name="Conv3d_2b_1x1")(x)
  x = Unit3D(192, (3, 3, 3), fold_batch_norm=fold, name="Conv3d_2c_3x3")(x)
  x = keras.layers.MaxPooling3D((1, 3, 3), (1, 2, 2), padding="same", name="MaxPool3d_3a_3x3")(x)
  x = InceptionBlock(_MIXED["Mixed_3b"], fold, name="Mixed_3b")(x)
  x = InceptionBlock(_MIXED["Mixed_3c"], fold, name="Mixed_3c")(x)
  x = keras.layers.MaxPooling3D((3, 3, 3), (2, 2, 2), padding="same", name="MaxPool3d_4a_3x3")(x)
  for block in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
    x = InceptionBlock(_MIXED[block], fold, name=block)(x)
  x = keras.layers.MaxPooling3D((2, 2, 2), (2, 2, 2), padding="same", name="MaxPool3d_5a_2x2")(x)
  x = InceptionBlock(_MIXED["Mixed_5b"], fold, name="Mixed_5b")(x)
  mixed_5c = InceptionBlock(_MIXED["Mixed_5c"], fold, name="Mixed_5c")(x)
  logits = I3DLogits(num_classes, name="Logits")(mixed_5c)
  predictions = keras.layers.Softmax(name="Predictions")(logits)
  avgpool = GlobalAvgPool3D(name="avgpool")(mixed_5c)
  return keras.Model(inputs, {"logits": logits, "predictions": predictions, "avgpool": avgpool}, name=name)


def i3d_endpoints(model, names):
  """A model of the same weights whose outputs are the named end points: dict name -> tensor."""
  unknown = [n for n in names if n not in VALID_ENDPOINTS + ("avgpool",)]
  if unknown:
    raise EvalError(f"unknown I3D end point(s) {unknown}; valid: {', '.join(VALID_ENDPOINTS)}, avgpool")
  return keras.Model(model.inputs, {n: model.get_layer(n).output for n in names}, name="i3d_endpoints")


def _units(model):
  """Yields (DeepMind unit name, Unit3D layer) for every conv unit of the model."""
  for layer in model.layers:
    if isinstance(layer, Unit3D):
      yield layer.name, layer
    elif isinstance(layer, InceptionBlock):
      for unit_name, unit in layer.units.items():
        yield f"{layer.name}/{unit_name}", unit


def i3d_variable_map(model):
  """Maps every canonical weight name (DeepMind's, without scope) to the Keras variable that holds it.

  For a model built with fold_batch_norm=True the names are `<unit>/conv_3d/w` and `<unit>/conv_3d/b` of
  the folded units (fill them from `fold_batch_norm(weights)`).
  """
  mapping = {}
  for name, unit in _units(model):
    mapping[f"{name}/conv_3d/w"] = unit.conv_3d.kernel
    if unit.fold_batch_norm:
      mapping[f"{name}/conv_3d/b"] = unit.conv_3d.bias
      continue
    mapping[f"{name}/batch_norm/beta"] = unit.batch_norm.beta
    mapping[f"{name}/batch_norm/moving_mean"] = unit.batch_norm.moving_mean
    mapping[f"{name}/batch_norm/moving_variance"] = unit.batch_norm.moving_variance
  head = model.get_layer("Logits")
  mapping["Logits/Conv3d_0c_1x1/conv_3d/w"] = head.conv_3d.kernel
  mapping["Logits/Conv3d_0c_1x1/conv_3d/b"] = head.conv_3d.bias
  return mapping


def fold_batch_norm(weights):
  """Canonical weights -> weights of the folded model: per unit, w / sqrt(var + eps) and beta - mean / sqrt(...).

  Units are recognised by their `/batch_norm/moving_variance`; the logits head is passed through.
  """
  folded = {}
  for name, value in weights.items():
    if "/batch_norm/" in name:
      continue
    folded[name] = np.asarray(value, np.float32)
  for name in weights:
    if not name.endswith("/batch_norm/moving_variance"):
      continue
    unit = name[:-len("/batch_norm/moving_variance")]
    needed = [f"{unit}/conv_3d/w", f"{unit}/batch_norm/beta", f"{unit}/batch_norm/moving_mean"]
    if any(k not in weights for k in needed):
      raise EvalError(f"weights lack the convolution or batch norm of unit {unit}")
    var = np.asarray(weights[name], np.float64).reshape(-1)
    inv_std = 1.0 / np.sqrt(var + BATCH_NORM_EPSILON)
    kernel = np.asarray(weights[f"{unit}/conv_3d/w"], np.float64)
    mean = np.asarray(weights[f"{unit}/batch_norm/moving_mean"], np.float64).reshape(-1)
    beta = np.asarray(weights[f"{unit}/batch_norm/beta"], np.float64).reshape(-1)
    if kernel.shape[-1] != var.size:
      raise EvalError(f"unit {unit}: kernel has {kernel.shape[-1]} outputs, batch norm {var.size}")
    folded[f"{unit}/conv_3d/w"] = (kernel * inv_std).astype(np.float32)
    folded[f"{unit}/conv_3d/b"] = (beta - mean * inv_std).astype(np.float32)
  return folded


def i3d_num_classes(weights):
  """Number of classes of a canonical weights dict (from the logits bias); EvalError if it has none."""
  bias = weights.get("Logits/Conv3d_0c_1x1/conv_3d/b")
  if bias is None:
    raise EvalError("weights have no Logits/Conv3d_0c_1x1/conv_3d/b: not I3D weights")
  return int(np.size(bias))


def assign_i3d_weights(model, weights, source="weights"):
  """Copies a canonical weights dict into `model`: every variable must be present with the same size.

  Arrays are reshaped to the variable's shape (Sonnet stores batch-norm vectors as [1, 1, 1, 1, C]). For a
  model built with fold_batch_norm=True the batch norms are folded here. Raises EvalError naming the first
  missing or mis-shaped variable.
  """
  required = []
  for name, _ in _units(model):
    required += [f"{name}/conv_3d/w", f"{name}/batch_norm/beta", f"{name}/batch_norm/moving_mean",
                 f"{name}/batch_norm/moving_variance"]
  required += ["Logits/Conv3d_0c_1x1/conv_3d/w", "Logits/Conv3d_0c_1x1/conv_3d/b"]
  missing = [n for n in required if n not in weights]
  if missing:
    raise EvalError(f"{source} lack {len(missing)} I3D variable(s), e.g. {missing[0]}")
  folded = any(unit.fold_batch_norm for _, unit in _units(model))
  if folded:
    for name in required:  # check the raw shapes before folding mixes them
      if name.endswith("/batch_norm/beta"):
        unit = name[:-len("/batch_norm/beta")]
        out = np.shape(weights[f"{unit}/conv_3d/w"])[-1]
        for stat in ("beta", "moving_mean", "moving_variance"):
          size = np.size(weights[f"{unit}/batch_norm/{stat}"])
          if size != out:
            raise EvalError(f"{source}: variable {unit}/batch_norm/{stat} has {size} values, the model needs {out}")
    weights = fold_batch_norm({n: weights[n] for n in required})
  for name, variable in i3d_variable_map(model).items():
    value = np.asarray(weights[name], dtype=np.float32)
    shape = tuple(variable.shape)
    if value.size != math.prod(shape) or (value.ndim == len(shape) and value.shape != shape):
      raise EvalError(f"{source}: variable {name} has shape {value.shape}, the model needs {shape}")
    variable.assign(value.reshape(shape))
