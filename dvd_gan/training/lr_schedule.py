"""Learning rates that fall linearly over the last steps of a run (off by default: the paper's are constant).

With `train.lr_decay_steps` = N > 0, both optimisers' learning rates at G step s (0-based) of a run of
`train.num_steps` = S steps are

  lr(s) = base                                           s <  S - N
  lr(s) = base * (1 - (1 - final) * (s - (S - N)) / N)   s >= S - N    (final = train.lr_decay_to)

so the last update uses base * (final + (1 - final) / N), and a resumed run with a larger S first gets its
constant rate back. A final decay lets G's weights settle instead of ending wherever a constant rate's
swings leave them; on the 32x32 demo it did not lower the FVD (6 runs, docs/demo.md), so no shipped config
uses it.

The G step is read from the optimiser's own update counter (`iterations`, checkpointed with it): D's
optimiser updates d_steps_per_g_step times per G step. Under float16 loss scaling, updates skipped for
non-finite gradients do not count, so D and G may lag that many updates behind the G step.
"""
import keras
import tensorflow as tf

from dvd_gan.training import config as training_config


class LinearTailDecay(keras.optimizers.schedules.LearningRateSchedule):
  """`base` until G step `num_steps - decay_steps`, then linearly to `base * final_fraction` (docstring)."""

  def __init__(self, base: float, num_steps: int, decay_steps: int, final_fraction: float = 0.0,
               updates_per_step: int = 1):
    if not 0 < decay_steps <= num_steps:
      raise ValueError(f"decay_steps must be in [1, num_steps = {num_steps}], got {decay_steps}")
    self.base, self.num_steps, self.decay_steps = float(base), int(num_steps), int(decay_steps)
    self.final_fraction, self.updates_per_step = float(final_fraction), int(updates_per_step)

  def __call__(self, iterations):
    step = tf.cast(tf.cast(iterations, tf.int64) // self.updates_per_step, tf.float32)
    progress = tf.clip_by_value((step - (self.num_steps - self.decay_steps)) / self.decay_steps, 0.0, 1.0)
    return self.base * (1.0 - (1.0 - self.final_fraction) * progress)

  def get_config(self):
    return {"base": self.base, "num_steps": self.num_steps, "decay_steps": self.decay_steps,
            "final_fraction": self.final_fraction, "updates_per_step": self.updates_per_step}


def learning_rate(base: float, train_config, updates_per_step: int = 1):
  """The optimiser's learning rate for `train_config` (a float when lr_decay_steps is 0, else the schedule)."""
  training_config.check_lr_decay(train_config)
  decay_steps = int(train_config.get("lr_decay_steps", 0))
  if decay_steps == 0:
    return float(base)
  return LinearTailDecay(base, int(train_config.num_steps), decay_steps,
                         float(train_config.get("lr_decay_to", 0.0)), updates_per_step)
