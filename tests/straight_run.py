"""Session fixture shared by test modules of different folders (a pytest plugin: tests/conftest.py registers
it): the straight 4-step run of the tiny training config, made once per test process.

The training tests compare resumed and looped runs with it bit for bit; tests/test_reliability.py copies its
folder and breaks things in the copy, and reuses its trainer (building the models and tracing the step are most
of a tiny run's time). That trainer carries a hook traced into its G update from the start
(`_inf_gradient_hook`): it adds exactly 0.0 to the gradient of G's first variable, and +Inf in the step that
ends with trainer.step == `poison_step` (-1: never; test_reliability arms it). The training tests' runs are
built without the hook and must match this one bit for bit, which also shows that the disarmed hook changes
nothing.

A test that changes the trainer's variables puts them back with `assign_state(trainer, run["state"])`, and a
test never writes into `run["workdir"]` (it copies it first).
"""
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.training import loop
from tests.dvd_gan.training.conftest import make_tiny_config, run_recording_initial

_GROUPS = ("G", "DS", "DT", "G_ema")
_OPTIMIZERS = ("g_opt", "d_opt")


def trainer_variables(trainer) -> dict:
  """{"<group>/<index>": variable} of every variable a checkpoint of `trainer` holds (models, optimisers,
  step, seeds), keyed by position (a second optimiser in the process gets another name)."""
  out = {}
  for group in _GROUPS:
    for i, v in enumerate(getattr(trainer, group).weights):
      out[f"{group}/{i}"] = v
  for group in _OPTIMIZERS:
    for i, v in enumerate(getattr(trainer, group).variables):
      out[f"{group}/{i}"] = v
  out["step"] = trainer.step
  out["rng"] = trainer.rng.state
  return out


def trainer_state(trainer) -> dict:
  """{"<group>/<index>": numpy copy} of `trainer_variables(trainer)`."""
  return {k: np.array(v.numpy()) for k, v in trainer_variables(trainer).items()}


def assign_state(trainer, state: dict) -> None:
  """Sets every variable of `trainer_variables(trainer)` to its value in `state` (a `trainer_state`)."""
  variables = trainer_variables(trainer)
  assert sorted(variables) == sorted(state)
  for k, v in variables.items():
    v.assign(state[k])


def _inf_gradient_hook(trainer, poison_step):
  """`trainer` whose G update adds Inf to the gradient of G's first variable in the step that ends with
  `trainer.step` = `poison_step` (a variable, -1: never), and exactly 0.0 otherwise (the same values). It is in
  the traced step from the start, so a test arming it needs no trace of its own."""
  apply = trainer.g_opt.apply_gradients

  def apply_with_hook(grads_and_vars):
    pairs = list(grads_and_vars)
    poisoned = tf.equal(trainer.step + 1, poison_step)  # the step counter moves after the G update
    grad = pairs[0][0] + tf.where(poisoned, float("inf"), 0.0)
    return apply([(grad, pairs[0][1])] + pairs[1:])
  trainer.g_opt.apply_gradients = apply_with_hook
  return trainer


@pytest.fixture(scope="session")
def default_run(tmp_path_factory):
  """The real loop, default strategy, 4 steps of the tiny config (EMA from step 3, checkpoints of steps 2 and
  4), its trainer carrying the disarmed Inf-gradient hook: {"result": train's result, "initial": the models'
  variables right after building (conftest `run_recording_initial`), "workdir", "state": `trainer_state` of the
  trainer at the end, "poison_step": the hook's variable}."""
  poison_step = tf.Variable(-1, dtype=tf.int64, trainable=False)
  with pytest.MonkeyPatch.context() as patch:
    build_trainer = loop.build_trainer
    patch.setattr(loop, "build_trainer", lambda *args: _inf_gradient_hook(build_trainer(*args), poison_step))
    run = run_recording_initial(make_tiny_config(), tmp_path_factory.mktemp("default_run"))
  run["state"] = trainer_state(run["result"]["trainer"])
  run["poison_step"] = poison_step
  return run
