"""What samples or predicts from a generator: the served modules around G_ema, and the uint8 conversion.

  Sampler, Predictor   tf.Modules around a restored G_ema whose tf.functions are the export's signatures
                       (dvd_gan/export.py's docstring). The export saves them as a SavedModel; `python -m
                       dvd_gan.sample` / `predict` call the same functions in this process when they start from
                       a run folder (dvd_gan.run_folder restores G_ema), so a run and its export give the same
                       videos for the same seed.
  to_uint8             float [-1, 1] -> uint8, round((x + 1) * 127.5): the conversion of generated videos to
                       pixels inside the signatures (eval.video_writer.to_uint8 is the same on numpy arrays).

The clients of an exported SavedModel (dvd_gan.sampling.load_saved_model, dvd_gan.predict) read its
signatures with TensorFlow only and do not import this module.
"""
import tensorflow as tf

from dvd_gan import random_streams
from dvd_gan import truncation as truncation_lib

FORMAT = "dvd-gan-sampler"
FORMAT_VERSION = 3  # 2: signatures latents and sample_mixed, constants on the module, --xla; 3: serving bounds
META_FILE = "export_meta.json"
# Serving bounds (dvd_gan.export --max_batch_size / --max_latents): a signature asked for more refuses before
# allocating anything. A video costs B * T * H * W * 3 floats plus the generator's activations; a row of
# `latents` only z_dim floats, so latents get a larger bound (sampling.py draws all of a request's z at once).
DEFAULT_MAX_BATCH_SIZE = 256
DEFAULT_MAX_LATENTS = 65536


def to_uint8(video):
  """float [B, T, H, W, 3] in [-1, 1] -> uint8 (round((x + 1) * 127.5), the inverse of x / 127.5 - 1)."""
  return tf.cast(tf.clip_by_value(tf.round((video + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


# ---- the served modules ----------------------------------------------------------------------------------

class _Untracked:
  """Holds an object without making it a dependency of a tf.Module."""

  def __init__(self, value):
    self.value = value


class Sampler(tf.Module):
  """tf.Module around G_ema whose tf.functions become the SavedModel's signatures (dvd_gan/export.py's docstring).

  Random numbers: key = [seed, 0]; z0 = stateless_normal([B, z_dim], split(key)[0]) and
  y = stateless_uniform([B], split(key)[1], 0, num_classes) (dvd_gan.random_streams.latents);
  z = truncation * z0 ("scale") or z0 with its components above the threshold redrawn from fold_in(key, 1)
  ("resample"; dvd_gan.truncation).

  The input checks (tf.debugging asserts) run in the signature functions, before and outside the one function
  that runs the generator (`G_ema.generate`). They refuse, with tf.errors.InvalidArgumentError and before any
  tensor of the batch's size is made, a batch above `max_batch_size` (`latents`: above `max_latents`), and a
  non-finite z, alpha or truncation (which would give NaN videos). With `xla=True` only that function is
  XLA-compiled: XLA drops Assert ops, so checks inside it would silently vanish (and XLA's gather clamps an
  out-of-range label instead of failing).

  Args:
    generator: the restored G_ema (a dvd_gan Generator).
    class_names: names in label order, or None.
    xla: XLA-compile (jit_compile) the generator's function.
    max_batch_size: the most videos one call of a video signature serves.
    max_latents: the most rows one call of `latents` draws.
  """

  def __init__(self, generator, class_names=None, *, xla: bool = False,
               max_batch_size: int = DEFAULT_MAX_BATCH_SIZE, max_latents: int = DEFAULT_MAX_LATENTS):
    super().__init__(name="dvd_gan_sampler")
    # The Keras model itself is kept out of the SavedModel's object graph (saving a Keras 3 model as a
    # tf.Module child makes TF trace its default call signature). `signatures()` tracks the tf.Variables its
    # functions capture instead (as keras.export.ExportArchive does); tracking Keras 3's variable wrappers
    # gives a SavedModel that TF2 loads but the TF1 / TF Serving loader cannot restore.
    self._holder = _Untracked(generator)
    self.captured_variables = []
    self._num_classes = int(generator.num_classes)
    self._z_dim = int(generator.z_dim)
    self._cond_dim = self._z_dim + (int(generator.embed_dim) if self._num_classes > 0 else 0)
    self._xla = bool(xla)
    if int(max_batch_size) < 1 or int(max_latents) < 1:
      raise ValueError(f"max_batch_size and max_latents must be >= 1, got {max_batch_size}, {max_latents}")
    self._max_batch, self._max_latents = int(max_batch_size), int(max_latents)
    names = [str(n) for n in class_names] if class_names else []
    if names and len(names) != self._num_classes:
      raise ValueError(f"{len(names)} class names for a model with {self._num_classes} classes")
    # Constants a client reads after tf.saved_model.load (e.g. `int(loaded.resolution)`), without the
    # metadata file. tf.Module saves variables, not tensors: these are non-trainable variables.
    def constant(name, value, dtype):
      return tf.Variable(tf.constant(value, dtype), trainable=False, name=name)
    self.format_version = constant("format_version", FORMAT_VERSION, tf.int32)
    self.resolution = constant("resolution", int(generator.resolution), tf.int32)
    self.num_frames = constant("num_frames", int(generator.num_frames), tf.int32)
    self.num_classes = constant("num_classes", self._num_classes, tf.int32)
    self.z_dim = constant("z_dim", self._z_dim, tf.int32)
    self.max_batch_size = constant("max_batch_size", self._max_batch, tf.int32)
    self.max_latents = constant("max_latents", self._max_latents, tf.int32)
    self.class_names = tf.Variable(tf.constant(names, tf.string, shape=[len(names)]), trainable=False,
                                   name="class_names")
    self._video_fn = None

  @property
  def generator(self):
    return self._holder.value

  # -- the generator: the only (optionally XLA-compiled) function; no checks inside --

  def _video(self, cond):
    """G_ema.generate(cond, training=False) as float32 `[B, T, H, W, 3]`; traced once for all signatures."""
    if self._video_fn is None:
      generator = self.generator
      self._video_fn = tf.function(
          lambda c: tf.cast(generator.generate(c, training=False), tf.float32),
          input_signature=[tf.TensorSpec([None, self._cond_dim], tf.float32)],
          jit_compile=True if self._xla else None)
    return self._video_fn(cond)

  # -- checked inputs (outside the generator's function) --

  def _batch_check(self, batch, name, limit=None, flag="max_batch_size"):
    """batch <= the served maximum; the limit is a constant of the traced function (fixed per export)."""
    limit = self._max_batch if limit is None else limit
    return tf.debugging.assert_less_equal(
        tf.cast(batch, tf.int64), tf.constant(limit, tf.int64),
        message=f"{name} is above this model's maximum of {limit} per call ({flag} of python -m "
                f"dvd_gan.export): split the request into batches")

  @staticmethod
  def _finite(x, name):
    """x, after a check that it holds no NaN or inf (CheckNumerics: InvalidArgumentError naming `name`)."""
    return tf.debugging.assert_all_finite(x, message=f"{name} must be finite (it holds NaN or inf)")

  def _checked_z(self, z):
    """z [B, z_dim] after the batch bound and the finiteness check (before anything of size B is made)."""
    with tf.control_dependencies([self._batch_check(tf.shape(z)[0], "the batch (rows of z)")]):
      return self._finite(tf.identity(z), "z")

  def _label_checks(self, y, batch, name):
    c = self._num_classes
    return [tf.debugging.assert_equal(tf.shape(y)[0], batch, message=f"{name} must have one label per row of z"),
            tf.debugging.assert_non_negative(y, message=f"{name} must be >= 0"),
            tf.debugging.assert_less(y, c, message=f"{name} must be < {c}")]

  def _embedding(self, y, checks):
    with tf.control_dependencies(checks):
      y = tf.identity(y)
    return self.generator.class_embedding(y, training=False)

  def _sample(self, z, y=None):
    z = self._checked_z(z)
    if self._num_classes == 0:
      return self._video(self.generator.conditioning(z))
    e = self._embedding(y, self._label_checks(y, tf.shape(z)[0], "y"))
    return self._video(self.generator.conditioning(z, embedding=e))

  def _latents(self, batch_size, seed, truncation, truncation_mode="scale", *, limit=None, flag="max_batch_size"):
    checks = [tf.debugging.assert_positive(batch_size, message="batch_size must be >= 1"),
              self._batch_check(batch_size, "batch_size", limit, flag)]
    with tf.control_dependencies(checks):
      t = self._finite(tf.cast(truncation, tf.float32), "truncation")
    checks.append(tf.debugging.assert_non_negative(t, message="truncation must be >= 0"))
    resample = None
    if not isinstance(truncation_mode, str):
      resample = tf.equal(truncation_mode, "resample")
      checks += [
          tf.debugging.Assert(tf.logical_or(resample, tf.equal(truncation_mode, "scale")),
                              ["truncation_mode must be scale or resample, got", truncation_mode]),
          tf.debugging.Assert(tf.logical_or(tf.logical_not(resample), t > 0),
                              ["truncation must be > 0 with truncation_mode resample"])]
    with tf.control_dependencies(checks):
      key = random_streams.key(seed, random_streams.Stream.SERVING)
    z0, y = random_streams.latents(key, batch_size, self._z_dim, self._num_classes)
    if resample is None:  # the Python mode of sample_random / sample_random_labels: always "scale"
      return truncation_lib.scale(z0, t), y
    z = tf.cond(resample,
                lambda: truncation_lib.resample(z0, tf.random.experimental.stateless_fold_in(key, 1), t),
                lambda: truncation_lib.scale(z0, t))
    return z, y

  def _outputs(self, z, y):
    video = self._sample(z, y)
    out = {"video": video, "video_uint8": to_uint8(video), "z": z}
    if self._num_classes > 0:
      out["y"] = y
    return out

  # -- the signatures --

  def sample(self, z, y=None):
    return {"video": self._sample(z, y)}

  def sample_mixed(self, z, y0, y1, alpha):
    """G_ema with the class embedding (1 - alpha) e(y0) + alpha e(y1): alpha [B] float32 (0 -> y0, 1 -> y1)."""
    z = self._checked_z(z)
    batch = tf.shape(z)[0]
    checks = (self._label_checks(y0, batch, "y0") + self._label_checks(y1, batch, "y1") +
              [tf.debugging.assert_equal(tf.shape(alpha)[0], batch,
                                         message="alpha must have one value per row of z")])
    with tf.control_dependencies(checks):
      a = self._finite(tf.identity(alpha), "alpha")[:, None]
    e = (1.0 - a) * self._embedding(y0, checks) + a * self._embedding(y1, checks)
    return {"video": self._video(self.generator.conditioning(z, embedding=e))}

  def latents(self, batch_size, seed, truncation, truncation_mode):
    z, y = self._latents(batch_size, seed, truncation, truncation_mode, limit=self._max_latents,
                         flag="max_latents")
    return {"z": z, "y": y} if self._num_classes > 0 else {"z": z}

  def sample_random(self, batch_size, seed, truncation):
    z, y = self._latents(batch_size, seed, truncation)
    return self._outputs(z, y)

  def sample_random_labels(self, y, seed, truncation):
    z, _ = self._latents(tf.shape(y)[0], seed, truncation)
    return self._outputs(z, y)

  def signatures(self) -> dict:
    """{name: concrete function} for tf.saved_model.save (dvd_gan/export.py's docstring)."""
    z = tf.TensorSpec([None, self._z_dim], tf.float32, name="z")
    y = tf.TensorSpec([None], tf.int32, name="y")
    batch_size = tf.TensorSpec([], tf.int32, name="batch_size")
    scalars = dict(seed=tf.TensorSpec([], tf.int64, name="seed"),
                   truncation=tf.TensorSpec([], tf.float32, name="truncation"))
    self.sample_random_fn = tf.function(self.sample_random)
    sample_random = self.sample_random_fn.get_concrete_function(batch_size=batch_size, **scalars)
    self.latents_fn = tf.function(self.latents)
    signatures = {
        "latents": self.latents_fn.get_concrete_function(
            batch_size=batch_size, truncation_mode=tf.TensorSpec([], tf.string, name="truncation_mode"),
            **scalars),
        "sample_random": sample_random,
    }
    if self._num_classes > 0:
      self.sample_fn = tf.function(self.sample)
      self.sample_mixed_fn = tf.function(self.sample_mixed)
      self.sample_random_labels_fn = tf.function(self.sample_random_labels)
      signatures.update({
          "sample": self.sample_fn.get_concrete_function(z, y),
          "sample_mixed": self.sample_mixed_fn.get_concrete_function(
              z, tf.TensorSpec([None], tf.int32, name="y0"), tf.TensorSpec([None], tf.int32, name="y1"),
              tf.TensorSpec([None], tf.float32, name="alpha")),
          "sample_random_labels": self.sample_random_labels_fn.get_concrete_function(y, **scalars),
      })
    else:
      self.sample_fn = tf.function(lambda z: self.sample(z))
      signatures["sample"] = self.sample_fn.get_concrete_function(z)
    signatures["serving_default"] = sample_random
    seen = {id(v) for v in self.captured_variables}
    for fn in signatures.values():
      for v in fn.variables:
        if id(v) not in seen:
          seen.add(id(v))
          self.captured_variables.append(v)
    return signatures


class Predictor(Sampler):
  """tf.Module around a DVD-GAN-FP G_ema: the `predict` signature (dvd_gan/export.py's docstring), and the constants of
  `Sampler` plus `num_conditioning_frames`. With `xla=True` only the generator's function is XLA-compiled."""

  def __init__(self, generator, *, xla: bool = False, max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
               max_latents: int = DEFAULT_MAX_LATENTS):
    # max_latents bounds no signature of a predictor; it is kept so that its constant and export_meta.json agree
    super().__init__(generator, None, xla=xla, max_batch_size=max_batch_size, max_latents=max_latents)
    self._num_context = int(generator.num_conditioning_frames)
    self._resolution = int(generator.resolution)
    self.num_conditioning_frames = tf.Variable(tf.constant(self._num_context, tf.int32), trainable=False,
                                               name="num_conditioning_frames")
    self._predict_fn = None

  def _prediction(self, z, context):
    """G_ema(z, context, training=False) as float32 `[N, T, H, W, 3]`; one tf.function."""
    if self._predict_fn is None:
      generator, c, r = self.generator, self._num_context, self._resolution
      self._predict_fn = tf.function(
          lambda z, ctx: tf.cast(generator(z, ctx, training=False), tf.float32),
          input_signature=[tf.TensorSpec([None, self._z_dim], tf.float32),
                           tf.TensorSpec([None, c, r, r, 3], tf.float32)],
          jit_compile=True if self._xla else None)
    return self._predict_fn(z, context)

  def predict(self, frames, seed, truncation):
    frames = tf.convert_to_tensor(frames)
    with tf.control_dependencies([self._batch_check(tf.shape(frames)[0], "the batch (videos of frames)")]):
      frames = tf.identity(frames)
    context = tf.cast(frames, tf.float32) / 127.5 - 1.0
    z, _ = self._latents(tf.shape(frames)[0], seed, truncation)
    predicted = self._prediction(z, context)
    video = tf.concat([context, predicted], axis=1)
    return {"video": video, "video_uint8": to_uint8(video), "predicted": predicted, "z": z}

  def signatures(self) -> dict:
    c, r = self._num_context, self._resolution
    self.predict_fn = tf.function(self.predict)
    predict = self.predict_fn.get_concrete_function(
        frames=tf.TensorSpec([None, c, r, r, 3], tf.uint8, name="frames"),
        seed=tf.TensorSpec([], tf.int64, name="seed"), truncation=tf.TensorSpec([], tf.float32, name="truncation"))
    signatures = {"predict": predict, "serving_default": predict}
    seen = {id(v) for v in self.captured_variables}
    for v in predict.variables:
      if id(v) not in seen:
        seen.add(id(v))
        self.captured_variables.append(v)
    return signatures


def make_served_module(generator, config, class_names=None, *, xla: bool = False,
                       max_batch_size: int = DEFAULT_MAX_BATCH_SIZE, max_latents: int = DEFAULT_MAX_LATENTS):
  """The tf.Module whose functions become the export's signatures: `Predictor` for DVD-GAN-FP, else `Sampler`."""
  if int(config.data.get("num_conditioning_frames", 0)) > 0:
    return Predictor(generator, xla=xla, max_batch_size=max_batch_size, max_latents=max_latents)
  return Sampler(generator, class_names, xla=xla, max_batch_size=max_batch_size, max_latents=max_latents)
