"""Exponential moving average of the generator's weights (BigGAN / DVD-GAN: decay 0.9999 from step 20,000).

The EMA generator G_ema is a second instance of G's architecture. After every G update at step s:

  s <  start_step:  G_ema <- G                     (copy; the average starts from G's weights at `start`)
  s >= start_step:  G_ema <- decay * G_ema + (1 - decay) * G

Batch-norm statistics (our choice): G_ema's *moving* batch-norm statistics are averaged in the same way as
the weights (they are non-trainable variables of the same shape as G's). Other non-trainable state that is
not a running average (spectral-norm power-iteration vectors `u`, integer counters) is copied from G: a
power-iteration vector is a property of the weight being normalised, and G's `u` is within one iteration of
the EMA weight's `u` once the average moves slowly. Sampling and evaluation call G_ema(training=False), so
by default they use these averaged statistics, which describe G's activations rather than G_ema's. With
`eval.standing_stats_batches` > 0 the end-of-run figures, the evaluations and the export instead sample
from a copy of G_ema whose moving statistics are measured on G_ema itself (BigGAN's standing statistics:
`dvd_gan.standing_stats.standing_stats_generator`); G_ema itself is never run in training mode.
"""
import collections

import tensorflow as tf


def _is_running_stat(variable) -> bool:
  """True for batch-norm moving means/variances (averaged); False for u vectors and counters (copied)."""
  name = variable.path if hasattr(variable, "path") else variable.name
  return "moving_" in name and "float" in str(variable.dtype)


class EMA:
  """Keeps `ema_model`'s variables an exponential moving average of `model`'s.

  Both models must have the same architecture (variables pair up in order). Build the EMA model, and
  call `update` inside `strategy.scope()`/replica-agnostic code: it only assigns variables.
  """

  def __init__(self, model, ema_model, decay: float, start_step: int):
    if not 0.0 <= decay < 1.0:
      raise ValueError(f"ema_decay must be in [0, 1), got {decay}")
    self.model, self.ema_model = model, ema_model
    self.decay, self.start_step = float(decay), int(start_step)
    src, dst = model.weights, ema_model.weights
    if len(src) != len(dst) or any(a.shape != b.shape for a, b in zip(src, dst)):
      raise ValueError("EMA model does not match the model's variables")
    pairs = [(_tf_variable(v), _tf_variable(e)) for v, e in zip(src, dst)]
    averaged = [v.trainable or _is_running_stat(v) for v in src]
    # Averaged pairs grouped by shape and dtype: one group's average is a few ops on the stacked variables
    # instead of a few per variable (~160 fewer ops per step for the tiny G: docs/performance.md).
    groups = collections.defaultdict(list)
    for pair, avg in zip(pairs, averaged):
      if avg:
        groups[(tuple(pair[1].shape), pair[1].dtype)].append(pair)
    self._groups = list(groups.values())
    self._copied = [pair for pair, avg in zip(pairs, averaged) if not avg]
    self._pairs = pairs

  def copy(self):
    """G_ema <- G (all variables)."""
    for v, e in self._pairs:
      e.assign(v)

  def update(self, step):
    """One EMA update after the G update of `step` (int64 scalar tensor or int)."""
    step = tf.cast(step, tf.float32)
    decay = tf.where(step >= float(self.start_step), self.decay, 0.0)
    factors = {}  # decay once per dtype
    for group in self._groups:
      dtype = group[0][1].dtype
      if dtype not in factors:
        factors[dtype] = tf.cast(decay, dtype)
      d = factors[dtype]
      if len(group) == 1:
        (v, e), = group
        values = [_average(tf.convert_to_tensor(v), tf.convert_to_tensor(e), d)]
      else:
        values = tf.unstack(_average(tf.stack([v for v, _ in group]), tf.stack([e for _, e in group]), d))
      for (_, e), value in zip(group, values):
        e.assign(value)
    for v, e in self._copied:
      e.assign(v)


def _average(model, ema, decay):
  """decay * ema + (1 - decay) * model, as model + decay * (ema - model): exactly `model` when decay is 0 (the copy
  before the start step)."""
  return model + decay * (ema - model)


def _tf_variable(variable):
  """The TensorFlow variable under a Keras variable (its plain reads and assigns add no conversion ops)."""
  value = getattr(variable, "value", None)
  return value if isinstance(value, tf.Variable) else variable
