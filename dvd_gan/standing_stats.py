"""Standing statistics for the EMA generator (BigGAN's `accumulate_standing_stats`).

G_ema samples in inference mode, so its batch norms use moving statistics. Those of the training loop are an
EMA of G's moving statistics (dvd_gan/training/ema.py), i.e. statistics of G's activations, not of G_ema's.
Standing statistics are measured on G_ema itself:

  copy <- a new generator with G_ema's architecture and every G_ema variable (weights, spectral-norm `u`)
  for i in 1..N:  z_i, y_i fresh (z ~ N(0, truncation^2 I), y uniform over the classes), batch size B
                  run copy(z_i, y_i, training=True): every batch norm normalises with the batch's own
                  per-time-step moments mean_i, var_i ([T, C])
  moving_mean <- (1/N) sum_i mean_i,  moving_variance <- (1/N) sum_i var_i     (in the copy)

and the copy is the generator that samples (`training=False`). Its weights and `u` are G_ema's, so it draws
with exactly G_ema's kernels; only the moving statistics differ.

The live G_ema is never called in training mode: that would advance its spectral-norm `u` and overwrite its
moving statistics, and the next EMA update would average from the wrong values. Within the copy, each
training-mode call advances `u` too; the copy's `u` is reset to G_ema's after every batch, so every batch
normalises the activations of the kernels that will sample. The per-batch moments are read from the moving
statistics of batch norms whose momentum is set to 0 for the accumulation (moving = batch moments; the
layers' own update rule, dvd_gan/layers/batch_norm.py), and restored afterwards.

Config: `eval.standing_stats_batches` N (0 = off: sample with the moving statistics of the training loop),
`eval.standing_stats_batch_size` B, `eval.truncation` (the z distribution sampled, as BigGAN accumulates its
standing statistics at the truncation it samples with). Used by the end-of-run figures
(dvd_gan/evaluation/), the tools that load a run's generator (dvd_gan/run_folder.py) and the export
(dvd_gan/export.py), which records the settings.
"""
import keras
import tensorflow as tf

from dvd_gan import legacy, random_streams
from dvd_gan.layers import BatchNorm, ClassConditionalBatchNorm
from dvd_gan.models.build import build_generator_from_shapes
from eval.interrupt import check as check_stop


def batch_norm_layers(model) -> list:
  """Every batch-norm layer (`BatchNorm`, `ClassConditionalBatchNorm`) of `model`, in a fixed order."""
  return [layer for layer in model._flatten_layers()
          if isinstance(layer, (BatchNorm, ClassConditionalBatchNorm))]


def settings(config) -> dict:
  """`{"batches", "batch_size", "seed", "truncation"}` of `config.eval` (batches 0 = off). A config written
  before these keys existed (a run's config.json) has them off (dvd_gan/legacy.py)."""
  return {"batches": int(legacy.get(config, "eval.standing_stats_batches")),
          "batch_size": int(legacy.get(config, "eval.standing_stats_batch_size")),
          "seed": int(config.get("seed", 0)),
          "truncation": float(legacy.get(config, "eval.truncation"))}


def batch_latents(seed: int, index: int, batch_size: int, z_dim: int, num_classes: int,
                  truncation: float = 1.0):
  """z [B, z_dim] and y [B] (None if unconditional) of accumulation batch `index`: a pure function of
  (seed, index)."""
  key = tf.random.experimental.stateless_fold_in(random_streams.key(seed, random_streams.Stream.STANDING_STATS),
                                                 index)
  return random_streams.latents(key, batch_size, z_dim, num_classes, truncation=truncation)


def copy_generator(generator):
  """A new generator with `generator`'s architecture (`get_config`) and a copy of all its variables (the
  copy's variables are created from the layers' shapes, without tracing a call)."""
  copy = generator.__class__.from_config(generator.get_config())
  with keras.name_scope(copy.name):
    build_generator_from_shapes(copy)
  src, dst = generator.weights, copy.weights
  if [(a.name, tuple(a.shape)) for a in src] != [(b.name, tuple(b.shape)) for b in dst]:
    raise ValueError("the generator's copy does not have the generator's variables")
  for a, b in zip(src, dst):
    b.assign(a)
  return copy


class StandingStats:
  """A copy of `generator` (`copy_generator`) whose standing statistics are measured again on demand
  (`accumulate`): the copy and its compiled accumulation batch are built once and kept, so a run that
  evaluates G_ema every N steps pays for one trace of the copy's training call and one of its sampling call
  (a tf.function keyed on the copy: dvd_gan.evaluation.scorer) instead of a new copy, eager training calls
  and a new trace at every evaluation. `generator` is only read.
  """

  def __init__(self, generator):
    if int(getattr(generator, "num_conditioning_frames", 0) or 0):
      raise ValueError("standing statistics are not implemented for DVD-GAN-FP generators (they would need "
                       "conditioning frames): set eval.standing_stats_batches = 0")
    self.source = generator
    self.copy = copy_generator(generator)
    self._norms = batch_norm_layers(self.copy)
    self._moving = [(bn.moving_mean, bn.moving_variance) for bn in self._norms]
    moving_ids = {id(v) for pair in self._moving for v in pair}
    # State a training call moves besides the moving statistics (spectral-norm u): reset after every batch.
    self._reset = [(s, d) for s, d in zip(generator.weights, self.copy.weights)
                   if not d.trainable and id(d) not in moving_ids]
    self._sums = [(tf.Variable(tf.zeros_like(m)), tf.Variable(tf.zeros_like(v))) for m, v in self._moving]
    self._batch = tf.function(self._accumulate_batch)  # traced at its first call, inside `accumulate`

  def _accumulate_batch(self, z, y):
    """One batch: the copy's training call (momentum 0: the moving statistics are the batch's moments, read
    at trace time), its moments added to the sums, `u` reset to the source's."""
    self.copy(z, y, training=True)
    for (m, v), (sm, sv) in zip(self._moving, self._sums):
      sm.assign_add(m.value)
      sv.assign_add(v.value)
    for s, d in self._reset:
      d.assign(s)

  def accumulate(self, num_batches: int, batch_size: int, seed: int, truncation: float = 1.0, log=None,
                 should_stop=None):
    """The copy, holding the source's current variables and, in its batch norms, the standing statistics
    over `num_batches` batches of `batch_size` fresh (z, y) (module docstring). `should_stop`
    (eval.interrupt) is checked before every batch; when it says stop, the copy's statistics are partial
    until the next `accumulate`.

    Deterministic for a fixed (seed, num_batches, batch_size, truncation) and source variables on one device.
    """
    if int(num_batches) < 1 or int(batch_size) < 1:
      raise ValueError(f"standing statistics need >= 1 batch of >= 1 video, got {num_batches} x {batch_size}")
    for s, d in zip(self.source.weights, self.copy.weights):
      d.assign(s)
    if not self._norms:
      return self.copy
    for sm, sv in self._sums:
      sm.assign(tf.zeros_like(sm))
      sv.assign(tf.zeros_like(sv))
    num_classes, z_dim = int(self.source.num_classes), int(self.source.z_dim)
    momenta = [bn.momentum for bn in self._norms]
    for bn in self._norms:
      bn.momentum = 0.0  # a training call then stores the batch's own moments as the moving statistics
    try:  # the momenta are 0 while `_batch` runs, so also when it is traced
      for i in range(int(num_batches)):
        check_stop(should_stop, "standing statistics")
        z, y = batch_latents(seed, i, int(batch_size), z_dim, num_classes, truncation)
        self._batch(z, y)
        if log is not None and (i + 1 == int(num_batches) or (i + 1) % 10 == 0):
          log(f"  standing statistics: batch {i + 1}/{num_batches}")
    finally:
      for bn, momentum in zip(self._norms, momenta):
        bn.momentum = momentum
    for (m, v), (sm, sv) in zip(self._moving, self._sums):
      m.assign(sm / float(num_batches))
      v.assign(sv / float(num_batches))
    return self.copy


def standing_stats_generator(generator, num_batches: int, batch_size: int, seed: int,
                             truncation: float = 1.0, log=None, should_stop=None):
  """A copy of `generator` whose batch norms' moving statistics are its standing statistics over
  `num_batches` batches of `batch_size` fresh (z, y) (module docstring; `StandingStats`). `generator` is only
  read. `should_stop` (eval.interrupt) is checked before every batch: the copy is dropped when it says stop.

  Deterministic for a fixed (seed, num_batches, batch_size, truncation) and weights on one device.
  """
  return StandingStats(generator).accumulate(num_batches, batch_size, seed, truncation, log=log,
                                             should_stop=should_stop)


def sampling_generator(generator, config, log=None, should_stop=None, standing=None):
  """The generator that samples for `config`: `generator` itself when `eval.standing_stats_batches` is 0,
  else a copy of it with standing statistics, with the settings of `settings(config)` (and `should_stop`):
  a new copy (`standing_stats_generator`), or with `standing` (a `StandingStats` of `generator`) that one's
  copy, measured again."""
  s = settings(config)
  if s["batches"] <= 0:
    return generator
  if standing is not None and standing.source is not generator:
    raise ValueError("sampling_generator: `standing` is a StandingStats of another generator")
  if log is not None:
    log(f"standing statistics of the EMA generator: {s['batches']} batches of {s['batch_size']} "
        f"(truncation {s['truncation']}, seed {s['seed']})")
  if standing is None:
    return standing_stats_generator(generator, s["batches"], s["batch_size"], s["seed"], s["truncation"],
                                    log=log, should_stop=should_stop)
  return standing.accumulate(s["batches"], s["batch_size"], s["seed"], s["truncation"], log=log,
                             should_stop=should_stop)
