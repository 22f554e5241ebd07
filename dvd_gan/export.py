"""Exports the EMA generator of a training run as a self-contained SavedModel that serves samples.

    dvd-gan-export --workdir=DIR --out=EXPORT_DIR [--overwrite] [--class_names=FILE] [--xla]
                   [--standing_stats_batches=N]
                   [--config=NAME_OR_FILE --config.key=value ...]       (or python -m dvd_gan.export)

It restores only `G_ema` from the newest checkpoint of DIR/checkpoints (written by dvd_gan.training.loop),
rebuilds the generator from the run's resolved config (DIR/config.json; --config replaces it, with the usual
ml_collections overrides) in float32, and writes a SavedModel whose signatures run G_ema in inference mode
(training=False: batch norm uses G_ema's moving statistics, spectral norm its stored `u`, nothing updates).
With standing statistics on (`eval.standing_stats_batches` > 0 in the config, or --standing_stats_batches),
the exported generator is a copy of G_ema whose moving statistics are its standing statistics
(dvd_gan/training/standing_stats.py; weights and `u` are G_ema's):

  sample(z: float32 [B, z_dim], y: int32 [B])            -> {"video": float32 [B, T, H, W, 3] in [-1, 1]}
      (unconditional models: sample(z) without y)
  sample_mixed(z: float32 [B, z_dim], y0: int32 [B], y1: int32 [B], alpha: float32 [B])
      -> {"video"}: G_ema with the class embedding (1 - alpha) e(y0) + alpha e(y1)   (conditional models only)
  latents(batch_size: int32 [], seed: int64 [], truncation: float32 [], truncation_mode: string [])
      -> {"z": float32 [B, z_dim], "y": int32 [B] (conditional models only)}; truncation_mode "scale"
      (z ~ N(0, truncation^2 I), the z of sample_random) or "resample" (BigGAN: components of N(0, I) above
      the threshold `truncation` redrawn; dvd_gan.truncation)
  sample_random(batch_size: int32 [], seed: int64 [], truncation: float32 [])
      -> {"video": float32 [B, T, H, W, 3], "video_uint8": uint8 [B, T, H, W, 3],
          "z": float32 [B, z_dim], "y": int32 [B] (conditional models only)}
      z ~ N(0, truncation^2 I) (the truncation trick; docs/paper.md: sigma = 0.44 for the truncated samples),
      y uniform over the classes; a pure function of (batch_size, seed, truncation).
  sample_random_labels(y: int32 [B], seed: int64 [], truncation: float32 [])   (conditional models only)
      -> the same outputs for the given classes; its z equals sample_random's z for the same seed and B.
  serving_default = sample_random.

DVD-GAN-FP runs (data.num_conditioning_frames = C > 0; `Predictor`) have one signature instead:

  predict(frames: uint8 [N, C, H, W, 3], seed: int64 [], truncation: float32 [])
      -> {"video": float32 [N, C + T, H, W, 3] in [-1, 1], "video_uint8": uint8 [N, C + T, H, W, 3]
          ([conditioning frames; predicted frames]), "predicted": float32 [N, T, H, W, 3], "z": float32 [N, z_dim]}
      the frames enter G as frames / 127.5 - 1 (the training data's scaling); z ~ N(0, truncation^2 I) from
      the seed as sample_random's; a pure function of (frames, seed, truncation).
  serving_default = predict.

The loaded object also carries the constants `format_version`, `resolution`, `num_frames`, `num_classes`,
`z_dim` and `class_names` (string [C], empty when unknown) as variables (DVD-GAN-FP exports also
`num_conditioning_frames`). Input checks run outside the
generator's function, which `--xla` XLA-compiles (XLA drops Assert ops). The export folder also holds
export_meta.json (format version, step, checkpoint, resolved config, class names when known, the
signatures, and "standing_stats": {"batches" (0 = off), "batch_size", "seed", "truncation"}). Loading needs
TensorFlow only (`tf.saved_model.load`), not dvd_gan.
--workdir and --out may be on any filesystem TensorFlow knows (`gs://...`). The SavedModel is written to a
temporary folder next to --out and then published (`eval.io.publish_dir`): renamed into place on a local
disk; on an object store, which has no folder rename, copied file by file. Either way the file `COMPLETE`
is written into --out last: an export is complete when `eval.io.is_complete(out)` (the file exists); a
folder without it is an interrupted export.
"""
import os
from typing import Optional, Sequence

import ml_collections
import tensorflow as tf

from eval import command
from eval import io as eio

FORMAT = "dvd-gan-sampler"
FORMAT_VERSION = 2  # 2: signatures latents and sample_mixed, constants on the module, --xla
META_FILE = "export_meta.json"


class ExportError(Exception):
  """A user-facing problem with the export's inputs (one line; the CLI prints it and exits 2)."""


# ---- inputs: config, checkpoint, class names --------------------------------------------------------------

def load_run_config(workdir: str) -> ml_collections.ConfigDict:
  """The resolved config a training run wrote to `<workdir>/config.json`."""
  path = eio.join(workdir, "config.json")
  if not eio.isfile(path):
    raise ExportError(f"{path} not found: not a training run folder (pass --config=NAME_OR_FILE "
                      "to give the run's config)")
  try:
    return ml_collections.ConfigDict(eio.read_json(path))
  except (ValueError, *eio.io_errors()) as e:
    raise ExportError(f"cannot read {path}: {_first_line(e)}") from None


def resolve_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The config as the training loop resolves it (num_classes from the dataset when left 0)."""
  from dvd_gan.training.loop import resolve_config as _resolve  # noqa: PLC0415 - heavy import, CLI only
  return _resolve(config)


def latest_checkpoint(workdir: str) -> str:
  """Path prefix of the newest checkpoint in `<workdir>/checkpoints`; ExportError if there is none."""
  if not eio.isdir(workdir):
    raise ExportError(f"--workdir {workdir} does not exist")
  directory = eio.join(workdir, "checkpoints")
  latest = tf.train.latest_checkpoint(directory) if eio.isdir(directory) else None
  if latest is None:
    raise ExportError(f"no checkpoint in {directory}: train first (python -m dvd_gan.train --workdir=...)")
  return latest


def checkpoint_step(checkpoint_path: str) -> int:
  """The training step stored in a full-state checkpoint (its `step` variable)."""
  from dvd_gan.training import checkpointing  # noqa: PLC0415
  try:
    reader = checkpointing.read_checkpoint(checkpoint_path)
    return int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))
  except (tf.errors.OpError, ValueError, KeyError):
    raise ExportError(f"{checkpoint_path} holds no 'step' variable: not a dvd_gan training checkpoint") from None


def default_class_names(config) -> Optional[list]:
  """Class names of the configured dataset in label order, when known offline; None otherwise.

  synthetic: dvd_gan.data.synthetic.CLASS_NAMES; ucf101: the label list bundled with tensorflow-datasets
  (the labels TFDS assigns); kinetics600 (names come from the prepared dataset's annotations) and
  unconditional datasets: None (give them with --class_names).
  """
  name = config.data.name
  if name == "synthetic":
    from dvd_gan.data import synthetic  # noqa: PLC0415
    return list(synthetic.CLASS_NAMES)
  if name == "ucf101":
    try:
      import tensorflow_datasets as tfds  # noqa: PLC0415
      path = eio.join(str(tfds.core.tfds_path()), "video", "ucf101_labels.txt")
      return [line.strip() for line in eio.read_text(path).splitlines() if line.strip()]
    except Exception:  # noqa: BLE001 - names are a convenience: a missing file only leaves them out
      return None
  return None


def read_class_names(path: str) -> list:
  """One class name per non-empty line of `path`, in label order."""
  try:
    return [line.strip() for line in eio.read_text(path).splitlines() if line.strip()]
  except (UnicodeDecodeError, *eio.io_errors()) as e:
    raise ExportError(f"cannot read --class_names {path}: {_first_line(e)}") from None


# ---- the generator ---------------------------------------------------------------------------------------

def build_generator(config):
  """G's architecture for `config` in float32 with its variables created (values to be restored).

  The variables are initialised cheaply (`fast_init("zeros")`): every one of them is overwritten by the
  checkpoint, and `restore_ema_generator` checks that none is left out. DS and DT are never built.
  """
  from dvd_gan.models import build  # noqa: PLC0415
  from dvd_gan.models.conditioning import trace_generator  # noqa: PLC0415
  from dvd_gan.training import precision  # noqa: PLC0415
  with precision.policy_scope("float32"), build.fast_init("zeros"):
    generator = build.make_models(config)[0]
    trace_generator(generator)
  return generator


def _g_ema_keys(checkpoint_path: str) -> list:
  """Names of the G_ema variable values stored in a checkpoint."""
  from dvd_gan.training import checkpointing  # noqa: PLC0415
  names = checkpointing.read_checkpoint(checkpoint_path).get_variable_to_shape_map()
  return sorted(name for name in names
                if name.startswith("G_ema/") and name.endswith("/.ATTRIBUTES/VARIABLE_VALUE"))


def restore_ema_generator(config, checkpoint_path: str):
  """G_ema of the checkpoint at `checkpoint_path`, rebuilt from `config` (ExportError on a mismatch).

  Checkpoints store each model as `dvd_gan.training.checkpointing.model_variables(model)` (every variable,
  keyed by its position in `model.weights`); a checkpoint of the Keras model object itself is read too.
  Either way every variable of the generator must receive a stored value: Keras 3 does not show sub-layers
  held in Python lists to tf.train.Checkpoint, so a model-object checkpoint can silently lack them, and such
  a checkpoint is refused rather than exported with initial weights.
  """
  from dvd_gan.training import checkpointing  # noqa: PLC0415
  try:
    generator = build_generator(config)
  except ValueError as e:
    raise ExportError(f"cannot build the generator of this config: {str(e).splitlines()[0]}") from None
  keys = _g_ema_keys(checkpoint_path)
  if len(keys) != len(generator.weights):
    raise ExportError(
        f"{checkpoint_path} holds {len(keys)} G_ema variables but the config's generator has "
        f"{len(generator.weights)}: a different config, or a checkpoint written without all of G_ema's "
        "variables (train again with the current dvd_gan)")
  by_variables = any(k.startswith("G_ema/v0000_") for k in keys)
  target = checkpointing.model_variables(generator) if by_variables else generator
  try:
    status = tf.train.Checkpoint(G_ema=target).restore(checkpoint_path).expect_partial()
    status.assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.OpError) as e:
    raise ExportError(f"the checkpoint's G_ema does not match the config's generator ({checkpoint_path}): "
                      f"{str(e).splitlines()[0][:300]}") from None
  return generator


# ---- the served module -----------------------------------------------------------------------------------

def to_uint8(video):
  """float [B, T, H, W, 3] in [-1, 1] -> uint8 (round((x + 1) * 127.5), the inverse of x / 127.5 - 1)."""
  return tf.cast(tf.clip_by_value(tf.round((video + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


class _Untracked:
  """Holds an object without making it a dependency of a tf.Module."""

  def __init__(self, value):
    self.value = value


class Sampler(tf.Module):
  """tf.Module around G_ema whose tf.functions become the SavedModel's signatures (module docstring).

  Random numbers: key = [seed, 0]; z0 = stateless_normal([B, z_dim], split(key)[0]) and
  y = stateless_uniform([B], split(key)[1], 0, num_classes) (dvd_gan.training.randomness.latents);
  z = truncation * z0 ("scale") or z0 with its components above the threshold redrawn from fold_in(key, 1)
  ("resample"; dvd_gan.truncation).

  The input checks (tf.debugging asserts) run in the signature functions, before and outside the one function
  that runs the generator (`G_ema.generate`). With `xla=True` only that function is XLA-compiled: XLA drops
  Assert ops, so checks inside it would silently vanish (and XLA's gather clamps an out-of-range label
  instead of failing).

  Args:
    generator: the restored G_ema (a dvd_gan Generator).
    class_names: names in label order, or None.
    xla: XLA-compile (jit_compile) the generator's function.
  """

  def __init__(self, generator, class_names=None, *, xla: bool = False):
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
    if self._num_classes == 0:
      return self._video(self.generator.conditioning(z))
    e = self._embedding(y, self._label_checks(y, tf.shape(z)[0], "y"))
    return self._video(self.generator.conditioning(z, embedding=e))

  def _latents(self, batch_size, seed, truncation, truncation_mode="scale"):
    from dvd_gan import truncation as truncation_lib  # noqa: PLC0415 - traced into the graph
    from dvd_gan.training import randomness  # noqa: PLC0415 - traced into the graph; not needed to load
    t = tf.cast(truncation, tf.float32)
    checks = [tf.debugging.assert_positive(batch_size, message="batch_size must be >= 1"),
              tf.debugging.assert_non_negative(t, message="truncation must be >= 0")]
    resample = None
    if not isinstance(truncation_mode, str):
      resample = tf.equal(truncation_mode, "resample")
      checks += [
          tf.debugging.Assert(tf.logical_or(resample, tf.equal(truncation_mode, "scale")),
                              ["truncation_mode must be scale or resample, got", truncation_mode]),
          tf.debugging.Assert(tf.logical_or(tf.logical_not(resample), t > 0),
                              ["truncation must be > 0 with truncation_mode resample"])]
    with tf.control_dependencies(checks):
      key = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    z0, y = randomness.latents(key, batch_size, self._z_dim, self._num_classes)
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
    batch = tf.shape(z)[0]
    checks = (self._label_checks(y0, batch, "y0") + self._label_checks(y1, batch, "y1") +
              [tf.debugging.assert_equal(tf.shape(alpha)[0], batch,
                                         message="alpha must have one value per row of z")])
    with tf.control_dependencies(checks):
      a = tf.identity(alpha)[:, None]
    e = (1.0 - a) * self._embedding(y0, checks) + a * self._embedding(y1, checks)
    return {"video": self._video(self.generator.conditioning(z, embedding=e))}

  def latents(self, batch_size, seed, truncation, truncation_mode):
    z, y = self._latents(batch_size, seed, truncation, truncation_mode)
    return {"z": z, "y": y} if self._num_classes > 0 else {"z": z}

  def sample_random(self, batch_size, seed, truncation):
    z, y = self._latents(batch_size, seed, truncation)
    return self._outputs(z, y)

  def sample_random_labels(self, y, seed, truncation):
    z, _ = self._latents(tf.shape(y)[0], seed, truncation)
    return self._outputs(z, y)

  def signatures(self) -> dict:
    """{name: concrete function} for tf.saved_model.save (module docstring)."""
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
  """tf.Module around a DVD-GAN-FP G_ema: the `predict` signature (module docstring), and the constants of
  `Sampler` plus `num_conditioning_frames`. With `xla=True` only the generator's function is XLA-compiled."""

  def __init__(self, generator, *, xla: bool = False):
    super().__init__(generator, None, xla=xla)
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


def make_served_module(generator, config, class_names=None, *, xla: bool = False):
  """The tf.Module whose functions become the export's signatures: `Predictor` for DVD-GAN-FP, else `Sampler`."""
  if int(config.data.get("num_conditioning_frames", 0)) > 0:
    return Predictor(generator, xla=xla)
  return Sampler(generator, class_names, xla=xla)


# ---- export ----------------------------------------------------------------------------------------------

def _describe(fn) -> dict:
  """{"inputs": {name: [dtype, shape]}, "outputs": {...}} of a concrete function (for export_meta.json)."""
  def spec(s):
    return [s.dtype.name, s.shape.as_list()]
  return {"inputs": {s.name: spec(s) for s in tf.nest.flatten(fn.structured_input_signature)},
          "outputs": {k: spec(s) for k, s in fn.structured_outputs.items()}}


def _first_line(e: BaseException) -> str:
  text = getattr(e, "message", None) or str(e)
  lines = [line for line in str(text).splitlines() if line.strip()]
  return lines[0] if lines else type(e).__name__


def _check_out(out: str, overwrite: bool) -> None:
  if eio.exists(out) and not eio.isdir(out):
    raise ExportError(f"--out {out} exists and is not a folder")
  if eio.isdir(out) and eio.listdir(out) and not overwrite:
    raise ExportError(f"--out {out} exists and is not empty (pass --overwrite to replace it)")


def _absolute(path: str) -> str:
  return str(path) if eio.has_scheme(path) else os.path.abspath(path)


def export(workdir: str, out: str, *, config=None, overwrite: bool = False,
           class_names: Optional[Sequence[str]] = None, xla: bool = False,
           standing_stats_batches: Optional[int] = None, log=print) -> dict:
  """Writes the SavedModel of the run's latest G_ema to `out`; returns the export metadata.

  Args:
    workdir: training run folder (config.json, checkpoints/).
    out: export folder; must be absent or empty unless `overwrite`.
    config: the run's top-level config (resolved like the training loop does); None: `<workdir>/config.json`.
    overwrite: replace a non-empty `out`.
    class_names: names in label order; None: `default_class_names(config)`.
    xla: XLA-compile the generator's function (the input checks stay outside it; see `Sampler`).
    standing_stats_batches: replaces the config's `eval.standing_stats_batches` (0 = off); None: keep it.
    log: function printing one line.

  Raises:
    ExportError: a one-line problem with the inputs (no checkpoint, --out not empty, config mismatch, ...).
  """
  _check_out(out, overwrite)
  checkpoint_path = latest_checkpoint(workdir)
  config = load_run_config(workdir) if config is None else resolve_config(config)
  num_classes = int(config.num_classes)
  num_context = int(config.data.get("num_conditioning_frames", 0))
  step = checkpoint_step(checkpoint_path)
  if class_names is None:
    class_names = default_class_names(config) if num_classes > 0 else None
  elif len(class_names) != num_classes:
    raise ExportError(f"{len(class_names)} class names given for a model with {num_classes} classes")
  if class_names is not None and len(class_names) != num_classes:
    class_names = None
  if standing_stats_batches is not None:
    if int(standing_stats_batches) < 0:
      raise ExportError(f"--standing_stats_batches must be >= 0, got {standing_stats_batches}")
    config = ml_collections.ConfigDict(config.to_dict())
    config.eval.standing_stats_batches = int(standing_stats_batches)
  generator = restore_ema_generator(config, checkpoint_path)
  from dvd_gan.training import standing_stats  # noqa: PLC0415
  standing = standing_stats.settings(config)
  try:
    generator = standing_stats.sampling_generator(generator, config, log=log)
  except ValueError as e:
    raise ExportError(str(e).splitlines()[0]) from None
  sampler = make_served_module(generator, config, class_names, xla=xla)
  signatures = sampler.signatures()
  meta = {
      "format": FORMAT, "format_version": FORMAT_VERSION,
      "step": step, "checkpoint": _absolute(checkpoint_path), "workdir": _absolute(workdir),
      "num_frames": int(config.num_frames), "resolution": int(config.resolution),
      "num_classes": num_classes, "z_dim": int(config.model.z_dim),
      "num_conditioning_frames": num_context,
      "class_names": list(class_names) if class_names is not None else None,
      "dtype": "float32", "xla": bool(xla), "tensorflow_version": tf.__version__,
      "standing_stats": standing,
      "signatures": {name: _describe(fn) for name, fn in signatures.items()},
      "config": config.to_dict(),
  }
  out = str(out).rstrip("/") if eio.has_scheme(out) else str(out)
  tmp = eio.temporary_dir(out)
  parent = eio.missing_output_folder(out)
  if parent:  # --out=exports/demo in a fresh clone: create exports/ (as dvd_gan.sample does for its --out)
    eio.makedirs(parent)
  try:
    tf.saved_model.save(sampler, tmp, signatures=signatures)
    eio.write_json(eio.join(tmp, META_FILE), meta)
    _check_out(out, overwrite)  # still true after the (long) save?
    # An empty --out folder is replaced without --overwrite (_check_out allowed it).
    eio.publish_dir(tmp, out, overwrite=eio.exists(out))
  finally:
    if eio.exists(tmp):
      eio.remove(tmp)
  log(f"exported G_ema of step {step} ({checkpoint_path}) to {out}")
  return meta


# ---- command line ----------------------------------------------------------------------------------------

def define_flags(fv, argv) -> None:
  from absl import flags  # noqa: PLC0415
  from dvd_gan import experiments  # noqa: PLC0415
  flags.DEFINE_string("workdir", None, "Training run folder (config.json, checkpoints/).", flag_values=fv)
  flags.DEFINE_string("out", None, "Export folder (absent or empty unless --overwrite).", flag_values=fv)
  flags.DEFINE_bool("overwrite", False, "Replace a non-empty --out.", flag_values=fv)
  flags.DEFINE_string("class_names", None, "Text file with one class name per line, in label order.",
                      flag_values=fv)
  flags.DEFINE_bool("xla", False, "XLA-compile the generator in the SavedModel (input checks stay outside).",
                    flag_values=fv)
  flags.DEFINE_integer("standing_stats_batches", None,
                       "Standing statistics of G_ema over this many batches (0 = off); default: the config's "
                       "eval.standing_stats_batches.", flag_values=fv)
  experiments.DEFINE_config(
      fv, argv, help_string="Experiment (a name or a .py file) replacing <workdir>/config.json, with "
                            "--config.key=value overrides.")


def body(fv, args) -> None:  # noqa: ARG001
  command.require(fv, "workdir", "out")
  names = read_class_names(fv.class_names) if fv.class_names else None
  export(fv.workdir, fv.out, config=fv.config, overwrite=fv.overwrite, class_names=names, xla=fv.xla,
         standing_stats_batches=fv.standing_stats_batches, log=lambda s: print(s, flush=True))


def main(argv=None) -> int:
  """`dvd-gan-export` / `python -m dvd_gan.export`: returns the exit status (0 ok, 2 bad input)."""
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__, user_errors=(ExportError,))


def run() -> None:
  """Console entry point (setup.py: dvd-gan-export)."""
  command.run(main)


if __name__ == "__main__":
  run()
