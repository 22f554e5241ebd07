"""Spectrally normalised Dense, Conv2D, Conv3D and Embedding layers (reparametrised, Miyato et al. / BigGAN).

Semantics (docs/paper.md, "Spectral normalisation"):
  * the trainable variable is the raw weight W (`kernel`, or `embeddings`); it is never overwritten;
  * every forward pass uses W / sigma(W) with W reshaped to a matrix `[-1, out]`,
    sigma = v^T W u where u, v come from ONE power iteration started at the stored `u` and are held under
    `stop_gradient`, so the gradient flows through sigma (not only through W);
  * `u` (`[1, out]`) is a non-trainable float32 variable updated only when `training=True`; it uses
    `aggregation=ONLY_FIRST_REPLICA` so the replica-context `assign` under `tf.distribute` keeps it
    identical on every replica (all replicas compute the same update anyway: same W, same u).
  * inside a rematerialised block (`remat.py`) `u` is read and written through `remat.read_state` /
    `assign_state`, so the recomputation uses the forward pass's `u` and does not update it again;
  * sigma is clipped below at `sn_epsilon` (1e-4) so an all-zero W gives a zero kernel instead of NaN; with
    orthogonal initialisation sigma starts at 1 and the clip never binds in practice.

All the maths of the power iteration runs in float32 (the kernel variable is created with `autocast=False`
and cast to `compute_dtype` only after normalisation), so mixed-precision policies are respected.

Each layer exposes `normalized_kernel()` (W / sigma with the current u, no update) for tests and
`spectral_kernel(training)` (the kernel a forward pass uses; updates u when `training` is true) for layers
that apply one kernel many times per step (the ConvGRU applies it at every time step, but must run the
power iteration once per step, not T times).

Batched power iterations (`batched`, used by the training step): a network's layers each run ~17 small ops
per training call for their iteration and ~10 for its gradient, most of a small step's ops. Inside
`with batched(layers):` the training-mode kernels of `layers` are computed on entry, layers whose weights
reshape to the same `[n, m]` stacked and iterated as ONE batched matrix product (`[k, n, m]`); each layer then
takes its kernel at its first training call and assigns its `u` then. Every layer's mathematics is the one
above (one iteration from its own stored u, the gradient through sigma): only the ops are shared. A layer
alone in its shape runs `power_iteration` as it would itself; a layer called a second time in the scope, or
inside a rematerialised block (whose recomputation must re-derive its kernel), runs its own iteration.

More power iterations per update (`batched(layers, iterations=n)`): every training call in the scope refines u
n - 1 times (u <- normalize(normalize(u W^T) W), no gradient) before the iteration above, the batched kernels
and the layers' own iterations alike. n = 1 is the method as written; the training step's D update may take
more (`train.d_sn_iterations`: its one call of each discriminator on [real; fake] makes one iteration where
two calls, reals then fakes, made two).
"""
import collections
import contextlib
import threading

import keras
import numpy as np
import tensorflow as tf

from dvd_gan.layers import remat

_PACKAGE = "dvd_gan"
_NORMALIZE_EPS = 1e-12
# {id(layer): (float32 kernel, u_new)} of the innermost `batched` scope, per thread: tf.distribute traces each
# replica's step in its own thread, and each replica's kernels are its own tensors.
_local = threading.local()


def power_iteration(w_mat, u, sn_epsilon=1e-4, iterations=1):
  """`iterations` power iterations (one by default) for the largest singular value of `w_mat`, or of each
  matrix of a stack: the first `iterations - 1` only refine u, the last gives sigma and u_new.

  Args:
    w_mat: `[n, m]` float32 matrix (the kernel reshaped to `[-1, out]`), or a stack `[k, n, m]` of them.
    u: `[1, m]` float32, the current estimate of the right singular vector (`[k, 1, m]` for a stack).
    sn_epsilon: lower bound on the returned sigma (a float, or `[k, 1, 1]` for a stack).
    iterations: int >= 1.

  Returns:
    `(sigma, u_new)`: sigma = v W u_new^T (scalar, `[k, 1, 1]` for a stack; differentiable w.r.t. `w_mat`),
    u_new `[1, m]` (`[k, 1, m]`; no gradient).
  """
  with tf.name_scope("power_iteration"):
    for _ in range(int(iterations) - 1):
      v = tf.math.l2_normalize(tf.matmul(u, w_mat, transpose_b=True), axis=-1, epsilon=_NORMALIZE_EPS)
      u = tf.stop_gradient(tf.math.l2_normalize(tf.matmul(v, w_mat), axis=-1, epsilon=_NORMALIZE_EPS))
    v = tf.stop_gradient(tf.math.l2_normalize(tf.matmul(u, w_mat, transpose_b=True), axis=-1,
                                              epsilon=_NORMALIZE_EPS))
    vw = tf.matmul(v, w_mat)  # [(k,) 1, m]; v W, computed once: it gives u_new and (with its gradient) sigma
    u_new = tf.stop_gradient(tf.math.l2_normalize(vw, axis=-1, epsilon=_NORMALIZE_EPS))
    stacked = w_mat.shape.rank == 3  # (a full reduction for one matrix: its gradient takes fewer ops)
    sigma = tf.reduce_sum(vw * u_new, axis=[1, 2] if stacked else None, keepdims=stacked)  # v W u_new^T
    return tf.maximum(sigma, sn_epsilon), u_new


def batched_kernels(layers, iterations=1):
  """{id(layer): (W / sigma float32 in W's shape, u_new [1, m])} for those of the built spectrally normalised
  `layers` whose weight reshapes to the `[n, m]` of another's: `iterations` power iterations each from its
  stored u, the iterations of one `[n, m]` as batched products; `u` is not assigned here (see `batched`)."""
  groups = collections.defaultdict(list)
  for layer in layers:
    shape = tuple(layer._sn_weight.shape)
    groups[(int(np.prod(shape[:-1])), int(shape[-1]))].append(layer)
  out = {}
  for (n, m), group in groups.items():
    if len(group) == 1:  # alone in its shape: the layer runs its own iteration when called
      continue
    k, shapes = len(group), {tuple(x._sn_weight.shape) for x in group}
    weights = [tf.convert_to_tensor(x._sn_weight.value) for x in group]
    if len(shapes) == 1:  # one shape: the stack is reshaped once, not every weight
      w = tf.reshape(tf.stack(weights), [k, n, m])
    else:
      w = tf.stack([tf.reshape(x, [n, m]) for x in weights])                            # [k, n, m]
    u = tf.stack([x.u.value for x in group])                                            # [k, 1, m]
    epsilon = tf.constant([[[x.sn_epsilon]] for x in group], tf.float32)
    sigma, u_new = power_iteration(w, u, epsilon, iterations)                           # [k, 1, 1]
    kernels = w / sigma
    if len(shapes) == 1:
      kernels = tf.unstack(tf.reshape(kernels, (k,) + shapes.pop()))
    else:
      kernels = [tf.reshape(x, layer._sn_weight.shape) for x, layer in zip(tf.unstack(kernels), group)]
    for layer, kernel, layer_u in zip(group, kernels, tf.unstack(u_new)):
      out[id(layer)] = (kernel, layer_u)
  return out


@contextlib.contextmanager
def batched(layers, iterations=1):
  """Within the scope, the first training call of each of `layers` (spectrally normalised, built) whose weight
  shares its `[n, m]` with another's takes its kernel from the batched computation made on entry (module
  docstring) and assigns its u then; every training call in the scope makes `iterations` power iterations
  (`layers` may be empty: only the iterations then). Enter it where the gradient must reach the weights (inside the
  GradientTape). Group only weights that are ready together: a layer's forward pass waits for the reads of every
  weight of its group (one network's weights, not those of a network another optimiser is still updating)."""
  iterations = int(iterations)
  if iterations < 1:
    raise ValueError(f"power iterations per update must be >= 1, got {iterations}")
  layers = [x for x in layers if getattr(x, "_sn_weight", None) is not None]
  previous = getattr(_local, "prepared", None), getattr(_local, "iterations", 1)
  _local.iterations = iterations
  _local.prepared = batched_kernels(layers, iterations) if layers else {}
  try:
    yield
  finally:
    _local.prepared, _local.iterations = previous


def _take_prepared(layer):
  prepared = getattr(_local, "prepared", None)
  if not prepared or remat.recording():
    return None
  return prepared.pop(id(layer), None)


class _SpectralNormLayer(keras.layers.Layer):
  """Shared machinery: owns the raw weight, `u` and the normalisation. Subclasses set `_weight_name`."""

  _weight_name = "kernel"

  def __init__(self, kernel_initializer="orthogonal", u_initializer="random_normal", sn_epsilon=1e-4,
               **kwargs):
    super().__init__(**kwargs)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.u_initializer = keras.initializers.get(u_initializer)
    self.sn_epsilon = float(sn_epsilon)

  def _add_sn_weights(self, shape):
    """Creates the raw weight `shape` (float32, not autocast) and `u` `[1, shape[-1]]`."""
    self._sn_weight = self.add_weight(
        name=self._weight_name, shape=shape, initializer=self.kernel_initializer, dtype="float32",
        autocast=False, trainable=True)
    self.u = self.add_weight(
        name="u", shape=(1, shape[-1]), initializer=self.u_initializer, dtype="float32",
        autocast=False, trainable=False, aggregation="only_first_replica")

  def _normalize(self, update_u):
    w = tf.convert_to_tensor(self._sn_weight.value)
    w_mat = tf.reshape(w, [-1, w.shape[-1]])
    # A training call (update_u) makes the iterations of the innermost `batched` scope, others one; a
    # rematerialised block's recomputation (outside the scope) replays its forward pass's count.
    iterations = remat.read_setting(getattr(_local, "iterations", 1) if update_u else 1)
    sigma, u_new = power_iteration(w_mat, remat.read_state(self.u), self.sn_epsilon, iterations)
    if update_u:
      remat.assign_state(self.u, lambda: u_new)
    return w / sigma

  def normalized_kernel(self):
    """W / sigma with sigma from the current `u` (one power iteration); `u` is not updated. float32."""
    return self._normalize(update_u=False)

  def spectral_kernel(self, training=None):
    """The kernel a forward pass uses, cast to `compute_dtype`; updates `u` iff `training` is true."""
    prepared = _take_prepared(self) if training else None
    if prepared is None:
      return tf.cast(self._normalize(update_u=bool(training)), self.compute_dtype)
    kernel, u_new = prepared
    self.u.assign(u_new)
    return tf.cast(kernel, self.compute_dtype)

  def get_config(self):
    config = super().get_config()
    config.update({
        "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        "u_initializer": keras.initializers.serialize(self.u_initializer),
        "sn_epsilon": self.sn_epsilon,
    })
    return config


class _SpectralNormWithBias(_SpectralNormLayer):
  """Adds an optional bias (zeros) to `_SpectralNormLayer`."""

  def __init__(self, use_bias=True, bias_initializer="zeros", **kwargs):
    super().__init__(**kwargs)
    self.use_bias = bool(use_bias)
    self.bias_initializer = keras.initializers.get(bias_initializer)

  def _add_bias(self, units):
    self.bias = None
    if self.use_bias:
      self.bias = self.add_weight(name="bias", shape=(units,), initializer=self.bias_initializer)

  def _maybe_add_bias(self, y):
    if self.bias is not None:
      y = y + tf.cast(self.bias, y.dtype)
    return y

  def get_config(self):
    config = super().get_config()
    config.update({
        "use_bias": self.use_bias,
        "bias_initializer": keras.initializers.serialize(self.bias_initializer),
    })
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SNDense(_SpectralNormWithBias):
  """Spectrally normalised dense layer: `[..., in] -> [..., units]`, kernel `[in, units]`."""

  def __init__(self, units, **kwargs):
    super().__init__(**kwargs)
    self.units = int(units)

  def build(self, input_shape):
    in_dim = input_shape[-1]
    if in_dim is None:
      raise ValueError(f"{self.name}: the last input dimension must be known, got {input_shape}")
    self._add_sn_weights((in_dim, self.units))
    self._add_bias(self.units)
    self.input_spec = keras.InputSpec(min_ndim=2, axes={-1: in_dim})

  @property
  def kernel(self):
    return self._sn_weight

  def apply_kernel(self, x, kernel):
    """`x @ kernel (+ bias)` for an explicit (already normalised) kernel."""
    y = tf.tensordot(x, kernel, axes=[[x.shape.rank - 1], [0]])
    return self._maybe_add_bias(y)

  def call(self, x, training=None):
    return self.apply_kernel(x, self.spectral_kernel(training))

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.units,)

  def get_config(self):
    config = super().get_config()
    config["units"] = self.units
    return config


def _as_tuple(value, n, what):
  if isinstance(value, int):
    return (value,) * n
  value = tuple(int(v) for v in value)
  if len(value) != n:
    raise ValueError(f"{what} must be an int or a tuple of {n} ints, got {value}")
  return value


class _SNConv(_SpectralNormWithBias):
  """Spectrally normalised N-D convolution (N = 2 or 3), channels last."""

  _rank = None

  def __init__(self, filters, kernel_size, strides=1, padding="same", **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.kernel_size = _as_tuple(kernel_size, self._rank, "kernel_size")
    self.strides = _as_tuple(strides, self._rank, "strides")
    padding = padding.lower()
    if padding not in ("same", "valid"):
      raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    self.padding = padding

  def build(self, input_shape):
    if len(input_shape) != self._rank + 2:
      raise ValueError(
          f"{self.name}: expected a rank-{self._rank + 2} channels-last input, got shape {input_shape}")
    in_ch = input_shape[-1]
    if in_ch is None:
      raise ValueError(f"{self.name}: the channel dimension must be known, got {input_shape}")
    self._add_sn_weights(self.kernel_size + (in_ch, self.filters))
    self._add_bias(self.filters)
    self.input_spec = keras.InputSpec(ndim=self._rank + 2, axes={-1: in_ch})

  @property
  def kernel(self):
    return self._sn_weight

  def apply_kernel(self, x, kernel):
    """Convolution of `x` with an explicit (already normalised) kernel, plus the bias."""
    strides = (1,) + self.strides + (1,)
    if self._rank == 2:
      y = tf.nn.conv2d(x, kernel, strides=strides, padding=self.padding.upper())
    else:
      y = tf.nn.conv3d(x, kernel, strides=strides, padding=self.padding.upper())
    return self._maybe_add_bias(y)

  def call(self, x, training=None):
    if x.shape.rank != self._rank + 2:
      raise ValueError(f"{self.name}: expected a rank-{self._rank + 2} input, got shape {x.shape}")
    return self.apply_kernel(x, self.spectral_kernel(training))

  def get_config(self):
    config = super().get_config()
    config.update({
        "filters": self.filters,
        "kernel_size": self.kernel_size,
        "strides": self.strides,
        "padding": self.padding,
    })
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SNConv2D(_SNConv):
  """Spectrally normalised 2-D convolution on `[N, H, W, C]`; kernel `[kh, kw, Cin, filters]`."""

  _rank = 2


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SNConv3D(_SNConv):
  """Spectrally normalised 3-D convolution on `[B, T, H, W, C]`; kernel `[kt, kh, kw, Cin, filters]`."""

  _rank = 3


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SNEmbedding(_SpectralNormLayer):
  """Spectrally normalised embedding: int ids `[...]` -> `[..., output_dim]`.

  The matrix `[input_dim, output_dim]` is normalised as a whole (sigma of the `[-1, out]` reshape).
  """

  _weight_name = "embeddings"

  def __init__(self, input_dim, output_dim, **kwargs):
    super().__init__(**kwargs)
    self.input_dim = int(input_dim)
    self.output_dim = int(output_dim)

  def build(self, input_shape):
    del input_shape
    self._add_sn_weights((self.input_dim, self.output_dim))

  @property
  def embeddings(self):
    return self._sn_weight

  def call(self, ids, training=None):
    if ids.dtype.is_floating:
      raise ValueError(f"{self.name}: expected integer class ids, got dtype {ids.dtype.name}")
    return tf.gather(self.spectral_kernel(training), ids)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape) + (self.output_dim,)

  def get_config(self):
    config = super().get_config()
    config.update({"input_dim": self.input_dim, "output_dim": self.output_dim})
    return config
