"""C3D (UCF-101 fine-tuned) for the video Inception Score, as TGAN (Saito et al. 2017) / TGANv2 compute it.

The network is C3D "version 1" (Tran et al. 2015): eight 3x3x3 convolutions, five max-pools, fc6/fc7 (4096,
ReLU) and fc8 (101 UCF-101 classes). Its weights are the Chainer conversion `conv3d_deepnetA_ucf.npz` that
TGAN distributes (keys `conv1a/W` [out, in, 3, 3, 3], `conv1a/b`, ..., `fc6/W` [4096, 8192], ...); the
input statistics are the Caffe mean clip `mean2.npz` (key `mean`, 3 x 16 x 128 x 171, BGR).

Preprocessing (TGAN `evaluation/calc_inception.py`): every frame (RGB, values in [0, 255]) is resized to
128x128 with OpenCV's INTER_CUBIC, channels are flipped to BGR, the mean clip (cropped to its central 128
columns, 21:149) is subtracted and the centre 112x112 (rows and columns 8:120) is cropped. The network then
sees [B, 16, 112, 112, 3]; the softmax of fc8 feeds the Inception Score.
"""
import math

import keras
import numpy as np
import tensorflow as tf

from eval.errors import EvalError

C3D_FRAMES = 16
C3D_RESIZE = 128
C3D_CROP = 112
C3D_NUM_CLASSES = 101
_CONVS = (("conv1a", 64), ("conv2a", 128), ("conv3a", 256), ("conv3b", 256), ("conv4a", 512), ("conv4b", 512),
          ("conv5a", 512), ("conv5b", 512))
_POOL_AFTER = {"conv1a": "pool1", "conv2a": "pool2", "conv3b": "pool3", "conv4b": "pool4", "conv5b": "pool5"}
_FCS = (("fc6", 4096), ("fc7", 4096), ("fc8", C3D_NUM_CLASSES))


def cubic_resize_matrix(size_in, size_out, a=-0.75):
  """The [size_out, size_in] matrix of OpenCV's INTER_CUBIC resize along one axis (float input).

  Half-pixel centres (src = (dst + 0.5) * in / out - 0.5), Keys' cubic with a = -0.75 and replicated
  borders, as `cv2.resize(..., interpolation=cv2.INTER_CUBIC)`.
  """
  scale = size_in / size_out
  matrix = np.zeros((size_out, size_in), np.float64)
  for i in range(size_out):
    src = (i + 0.5) * scale - 0.5
    x0 = math.floor(src)
    t = src - x0
    w_m1 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
    w_0 = ((a + 2) * t - (a + 3)) * t * t + 1
    w_1 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
    w_2 = 1.0 - w_m1 - w_0 - w_1
    for offset, w in zip((-1, 0, 1, 2), (w_m1, w_0, w_1, w_2)):
      matrix[i, min(max(x0 + offset, 0), size_in - 1)] += w
  return matrix.astype(np.float32)


def c3d_preprocess(videos, mean):
  """TGAN's C3D input: videos [B, T, H, W, 3] RGB in [0, 255] -> [B, T, 112, 112, 3] BGR minus mean.

  `mean` is the cropped mean clip [T, 112, 112, 3] (BGR) from `c3d_mean_clip`.
  """
  videos = tf.cast(videos, tf.float32)
  h, w = videos.shape[2], videos.shape[3]
  if h is None or w is None:
    raise EvalError("C3D needs videos with a static frame size [B, T, H, W, 3]")
  rows = tf.constant(cubic_resize_matrix(h, C3D_RESIZE))
  cols = tf.constant(cubic_resize_matrix(w, C3D_RESIZE))
  x = tf.einsum("oh,bthwc->btowc", rows, videos)
  x = tf.einsum("pw,btowc->btopc", cols, x)
  x = x[..., ::-1]  # RGB -> BGR, the order of the Caffe weights and of the mean clip
  start = (C3D_RESIZE - C3D_CROP) // 2
  x = x[:, :, start:start + C3D_CROP, start:start + C3D_CROP, :]
  return x - tf.constant(mean, tf.float32)


def c3d_mean_clip(mean):
  """TGAN's mean clip as [16, 112, 112, 3] BGR from `mean2.npz`'s `mean` array.

  Accepts the distributed 3 x 16 x 128 x 171 (any shape of that size; columns 21:149 are kept as TGAN does),
  an already square 3 x 16 x 128 x 128, or a cropped 3 x 16 x 112 x 112.
  """
  mean = np.asarray(mean, np.float32)
  sizes = {3 * 16 * 128 * 171: (128, 171), 3 * 16 * 128 * 128: (128, 128), 3 * 16 * 112 * 112: (112, 112)}
  if mean.size not in sizes:
    raise EvalError(f"C3D mean clip has {mean.size} values; expected 3x16x128x171 (TGAN mean2.npz)")
  h, w = sizes[mean.size]
  mean = mean.reshape(3, C3D_FRAMES, h, w)
  if w == 171:
    mean = mean[:, :, :, 21:21 + 128]
  if h == 128:
    start = (C3D_RESIZE - C3D_CROP) // 2
    mean = mean[:, :, start:start + C3D_CROP, start:start + C3D_CROP]
  return np.ascontiguousarray(mean.transpose(1, 2, 3, 0))


@keras.saving.register_keras_serializable(package="video_eval_c3d")
class ChannelsFirstFlatten(keras.layers.Layer):
  """Flattens [B, T, H, W, C] in Chainer's [B, C, T, H, W] order, so fc6 weights apply unchanged."""

  def call(self, x):
    x = tf.transpose(x, [0, 4, 1, 2, 3])
    return tf.reshape(x, [tf.shape(x)[0], -1])

  def compute_output_shape(self, input_shape):
    return (input_shape[0], math.prod(input_shape[1:]))


def build_c3d(num_classes=C3D_NUM_CLASSES):
  """C3D functional model: [B, 16, 112, 112, 3] preprocessed BGR -> {"logits": [B, 101], "fc7": [B, 4096]}.

  Pools use SAME padding, which equals Chainer's `cover_all` max-pooling (pool5 takes 7x7 to 4x4).
  """
  inputs = keras.Input((C3D_FRAMES, C3D_CROP, C3D_CROP, 3), name="video")
  x = inputs
  for name, channels in _CONVS:
    x = keras.layers.Conv3D(channels, 3, padding="same", activation="relu", name=name)(x)
    if name in _POOL_AFTER:
      pool = (1, 2, 2) if name == "conv1a" else (2, 2, 2)
      x = keras.layers.MaxPooling3D(pool, pool, padding="same", name=_POOL_AFTER[name])(x)
  x = ChannelsFirstFlatten(name="flatten")(x)
  fc6 = keras.layers.Dense(4096, activation="relu", name="fc6")(x)
  fc7 = keras.layers.Dense(4096, activation="relu", name="fc7")(fc6)
  logits = keras.layers.Dense(num_classes, name="fc8")(fc7)
  return keras.Model(inputs, {"logits": logits, "fc7": fc7}, name="c3d")


def _find(weights, key):
  """The array stored under `key` or `<prefix>/key` (Chainer may prefix a parent link's name)."""
  hits = [k for k in weights if k == key or k.endswith("/" + key)]
  if len(hits) != 1:
    raise EvalError(f"C3D weights: {'no' if not hits else 'ambiguous'} entry for {key}")
  return np.asarray(weights[hits[0]], np.float32)


def check_c3d_weights(weights):
  """EvalError naming the first C3D array (`conv1a/W`, ..., `fc8/b`) that `weights` lacks."""
  for name, _ in _CONVS + _FCS:
    _find(weights, f"{name}/W")
    _find(weights, f"{name}/b")


def assign_c3d_weights(model, weights):
  """Copies Chainer-layout C3D arrays (`conv1a/W` [out, in, kt, kh, kw], `fc6/W` [out, in], `*/b`) into `model`."""
  for name, _ in _CONVS + _FCS:
    layer = model.get_layer(name)
    kernel = _find(weights, f"{name}/W")
    kernel = kernel.transpose(2, 3, 4, 1, 0) if kernel.ndim == 5 else kernel.T
    bias = _find(weights, f"{name}/b")
    if kernel.shape != tuple(layer.kernel.shape) or bias.shape != tuple(layer.bias.shape):
      raise EvalError(f"C3D weights: {name} has shape {kernel.shape}, the model needs {tuple(layer.kernel.shape)}")
    layer.kernel.assign(kernel)
    layer.bias.assign(bias)
