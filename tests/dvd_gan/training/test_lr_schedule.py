"""train.lr_decay_steps: learning rates constant, then falling linearly over a run's last steps."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import data as data_lib
from dvd_gan.errors import UserError
from dvd_gan.training import fused_adam
from dvd_gan.training import lr_schedule
from dvd_gan.training.loop import resolve_config, train
from dvd_gan.training.trainer import build_trainer


def _reference_lr(base, num_steps, decay_steps, final, step):
  """The docstring's formula, one G step at a time in plain Python."""
  start = num_steps - decay_steps
  if step < start:
    return base
  return base * (1.0 - (1.0 - final) * min(1.0, (step - start) / decay_steps))


@pytest.mark.parametrize("updates_per_step", [1, 2])
def test_schedule_equals_the_formula(updates_per_step):
  """At every optimiser update of a 10-step run decaying over its last 4 steps to 0.25, the schedule gives the
  formula's rate for the G step that update belongs to (D: `updates_per_step` updates per G step)."""
  schedule = lr_schedule.LinearTailDecay(2e-3, 10, 4, 0.25, updates_per_step)
  for update in range(12 * updates_per_step):
    want = _reference_lr(2e-3, 10, 4, 0.25, update // updates_per_step)
    np.testing.assert_allclose(float(schedule(tf.constant(update, tf.int64))), want, rtol=1e-6)
  assert float(schedule(tf.constant(0))) == pytest.approx(2e-3)
  assert float(schedule(tf.constant(9 * updates_per_step))) < float(schedule(tf.constant(8 * updates_per_step)))


def test_off_by_default_and_bad_values_are_one_line_errors(tiny_config, tmp_path):
  """lr_decay_steps = 0 (the default) keeps a plain float learning rate; more steps than the run, a negative
  count or a final fraction outside [0, 1] are one-line errors naming the key, from the schedule and from
  `train` before it writes anything."""
  t = tiny_config().train
  assert t.lr_decay_steps == 0 and lr_schedule.learning_rate(1e-3, t) == 1e-3
  for steps, final, key in ((5, 0.0, "lr_decay_steps"), (-1, 0.0, "lr_decay_steps"), (2, 1.5, "lr_decay_to")):
    config = tiny_config(lr_decay_steps=steps, lr_decay_to=final)
    with pytest.raises(ValueError, match=key) as e:
      lr_schedule.learning_rate(1e-3, config.train)
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match=key) as e:
      train(config, str(tmp_path / "run"), log=lambda s: None)
    assert "\n" not in str(e.value)
  assert not (tmp_path / "run").exists()


def test_fused_adam_follows_the_schedule():
  """FusedAdam driven by the schedule takes the same steps as Keras's Adam whose constant rate is set by hand
  to the formula's value before each update (so the rate reaches the fused kernel at every update)."""
  rng = np.random.default_rng(0)
  grads = rng.normal(size=(6, 3, 5)).astype("float32")
  init = rng.normal(size=(3, 5)).astype("float32")
  schedule = lr_schedule.LinearTailDecay(1e-2, 6, 3, 0.0)
  fused = fused_adam.FusedAdam(learning_rate=schedule, beta_1=0.0, beta_2=0.99)
  plain = keras.optimizers.Adam(learning_rate=1e-2, beta_1=0.0, beta_2=0.99)
  a, b = keras.Variable(init), keras.Variable(init)
  for step, g in enumerate(grads):
    plain.learning_rate = _reference_lr(1e-2, 6, 3, 0.0, step)
    fused.apply_gradients([(tf.constant(g), a)])
    plain.apply_gradients([(tf.constant(g), b)])
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
  assert not np.allclose(a.numpy(), init)


def test_trainer_steps_with_the_schedule(tiny_config):
  """A trainer with lr_decay_steps: after each of a 4-step run's steps (2 D updates per G step) both
  optimisers report the formula's rate for the next step, and the last steps move G less than a constant
  rate would (the decay reaches the updates)."""
  def run(decay_steps):
    config = resolve_config(tiny_config(lr_decay_steps=decay_steps, d_steps_per_g_step=2))
    trainer = build_trainer(config, tf.distribute.get_strategy())
    it = iter(data_lib.make_dataset(config, split="train", training=True))
    before = None
    for step in range(4):
      if step == 3:
        before = [v.numpy() for v in trainer.G.trainable_variables]
      trainer.train_step(it)
      for opt, base in ((trainer.g_opt, config.train.g_lr), (trainer.d_opt, config.train.d_lr)):
        want = _reference_lr(base, 4, decay_steps, 0.0, step + 1) if decay_steps else base
        np.testing.assert_allclose(float(tf.convert_to_tensor(opt.learning_rate)), want, rtol=1e-6)
    return sum(float(np.abs(v.numpy() - b).sum()) for v, b in zip(trainer.G.trainable_variables, before))
  moved_decayed, moved_constant = run(2), run(0)
  assert 0.0 < moved_decayed < 0.75 * moved_constant, (moved_decayed, moved_constant)
