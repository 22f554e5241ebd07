"""train.steps_per_loop: several training steps inside one tf.function call (Trainer.train_loop).

The reference is the session's straight 4-step run of the tiny config with steps_per_loop=1 (conftest
`default_run`; train.deterministic=True: seeded initial weights and TensorFlow op determinism).
"""
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.training import checkpointing
from dvd_gan.errors import UserError
from dvd_gan.training.loop import check_schedule, train


def test_intervals_must_be_multiples_of_steps_per_loop(tiny_config, tmp_path):
  """log_every, checkpoint_every, sample_every or eval.every_steps not multiples of steps_per_loop (or
  steps_per_loop < 1) are a one-line user error naming the key, raised before anything is built or written."""
  assert check_schedule(tiny_config(steps_per_loop=2).train) == 2
  for overrides, key in (({"steps_per_loop": 2, "log_every": 3}, "log_every"),
                         ({"steps_per_loop": 2, "checkpoint_every": 7}, "checkpoint_every"),
                         ({"steps_per_loop": 2, "sample_every": 5}, "sample_every"),
                         ({"steps_per_loop": 0}, "steps_per_loop"),
                         ({"steps_per_loop": 2, "eval_every": 3}, "eval.every_steps")):
    eval_every = overrides.pop("eval_every", 0)
    config = tiny_config(**overrides)
    config.eval.every_steps = eval_every
    with pytest.raises(UserError, match=key) as e:
      train(config, str(tmp_path / "run"), log=lambda s: None)
    assert "\n" not in str(e.value)
  assert not (tmp_path / "run").exists()


def _all_state(trainer):
  """{name: value} of every variable of G, DS, DT, G_ema (weights, spectral-norm u, batch-norm moving
  statistics), both optimisers (moments, iteration counters), the step and the seed generator."""
  out = {}
  for name in ("G", "DS", "DT", "G_ema"):
    for i, v in enumerate(getattr(trainer, name).weights):
      out[f"{name}/{i}/{v.name}"] = v.numpy()  # position + leaf name (paths carry instance numbers)
  for name in ("g_opt", "d_opt"):
    for i, v in enumerate(getattr(trainer, name).variables):
      out[f"{name}/{i}/{v.name}"] = v.numpy()
  out["step"] = trainer.step.numpy()
  out["rng"] = trainer.rng.state.numpy()
  return out


def test_steps_per_loop_2_equals_1_bit_exact(ram_run, default_run):
  """4 steps with steps_per_loop=2 (conftest `ram_run`: two calls of two steps, stopped after the first and
  resumed) end with exactly the variables of 4 straight steps with steps_per_loop=1 (four calls): every
  variable of every model, both optimisers, step and seed generator; checkpoints at steps 2 and 4 as with
  one step per call. (One run serves this test and the non-local filesystem tests, to keep the suite short;
  test_training_resume.py shows resuming alone is bit-exact with one step per call.)"""
  looped = ram_run["second"]
  assert ram_run["first"]["step"] == 2 and looped["step"] == 4
  assert any("2 step(s) per call" in l for l in ram_run["log"]), ram_run["log"]
  a, b = _all_state(looped["trainer"]), _all_state(default_run["result"]["trainer"])
  assert a.keys() == b.keys() and len(a) > 100
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)
  state = tf.train.get_checkpoint_state(checkpointing.checkpoint_dir(ram_run["workdir"]))
  assert [p.rsplit("-", 1)[1] for p in state.all_model_checkpoint_paths] == ["2", "4"]
  assert looped["last_metrics"].keys() == default_run["result"]["last_metrics"].keys()
