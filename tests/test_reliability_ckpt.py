"""Fault injection on a run's checkpoints: what a resumed, a diverging or a restarted run does with them.

Every test starts from a copy of one straight 4-step run of the tiny config (checkpoints of steps 2 and 4,
train.deterministic=True), breaks something in it, and checks what the user sees (the lines, the exit status
of `dvd-gan-train`) and what is kept (the files, byte for byte):

  - a garbled state file `checkpoints/checkpoint`, a missing newest `.index`, a truncated newest data file:
    the run resumes from the newest checkpoint that restores (one line per skipped one) and continues
    BIT-EXACTLY as the straight run did; the state file then names it, so rotation keeps the older ones;
  - every checkpoint broken: `error: <one line>`, exit 2, the workdir byte-identical;
  - an Inf gradient in the last step of a call: `error: non-finite variable ...` naming it, exit 1, no new
    checkpoint;
  - best.json / checkpoints_best/ after a resume from an older checkpoint: rolled back to that step;
  - the folders of killed non-chief workers: removed at the next start, never a live worker's.

Building the models and tracing the training step are most of a tiny run's time, so every run here uses the
straight run's trainer (`_ckpt_reuse`); the Inf gradient comes from a hook traced into it from the start,
which adds exactly 0.0 until a test arms it. Each run restores a checkpoint into that trainer, which holds
other values (the straight run's end, or an earlier test's): the bit-exact comparison also checks that a
restore overwrites every variable.
"""
import hashlib
import json
import os
import shutil
import types

import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import train as train_cli
from dvd_gan.evaluation import best_checkpoint
from dvd_gan.training import checkpointing, loop, worker_dirs
from dvd_gan.training.loop import train
from tests.dvd_gan.training.conftest import make_tiny_config

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CKPT_CONFIG_FILE = """
import sys
sys.path.insert(0, {repo!r})
from tests.dvd_gan.training.conftest import make_tiny_config


def get_config():
  return make_tiny_config()
"""


def _ckpt_state(trainer) -> dict:
  """{"<group>/<index>": numpy copy} of every variable a checkpoint of `trainer` holds (models, optimisers,
  step, seeds), keyed by position (a second optimiser in the process gets another name)."""
  out = {}
  for group in ("G", "DS", "DT", "G_ema"):
    for i, v in enumerate(getattr(trainer, group).weights):
      out[f"{group}/{i}"] = np.array(v.numpy())
  for group in ("g_opt", "d_opt"):
    for i, v in enumerate(getattr(trainer, group).variables):
      out[f"{group}/{i}"] = np.array(v.numpy())
  out["step"] = trainer.step.numpy()
  out["rng"] = trainer.rng.state.numpy()
  return out


def _ckpt_assert_same_state(a: dict, b: dict) -> None:
  assert sorted(a) == sorted(b)
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _ckpt_hashes(folder) -> dict:
  """{relative path: sha256} of every file under `folder` (and every folder, as None)."""
  out = {}
  for root, dirs, files in os.walk(folder):
    for d in dirs:
      out[os.path.relpath(os.path.join(root, d), folder)] = None
    for f in files:
      path = os.path.join(root, f)
      with open(path, "rb") as fh:
        out[os.path.relpath(path, folder)] = hashlib.sha256(fh.read()).hexdigest()
  return out


def _ckpt_copy(straight, tmp_path) -> str:
  """A copy of the straight run's folder."""
  workdir = str(tmp_path / "run")
  shutil.copytree(straight["workdir"], workdir)
  return workdir


def _ckpt_truncate(path) -> None:
  with open(path, "rb") as f:
    data = f.read()
  with open(path, "wb") as f:
    f.write(data[:len(data) // 2])


def _ckpt_flip_byte(path) -> None:
  with open(path, "rb") as f:
    data = bytearray(f.read())
  data[len(data) // 2] ^= 0x10
  with open(path, "wb") as f:
    f.write(bytes(data))


def _ckpt_cli(tmp_path, workdir, capsys, *overrides) -> tuple:
  """`dvd-gan-train` in this process on the tiny config: (exit status, stdout lines, stderr lines)."""
  config_path = tmp_path / "ckpt_config.py"
  config_path.write_text(_CKPT_CONFIG_FILE.format(repo=_REPO))
  capsys.readouterr()
  code = train_cli.main(["dvd-gan-train", f"--config={config_path}", f"--workdir={workdir}", *overrides])
  out, err = capsys.readouterr()
  return code, out.strip().splitlines(), [line for line in err.splitlines() if line.strip()]


def _ckpt_data(workdir, n) -> str:
  return os.path.join(workdir, "checkpoints", f"ckpt-{n}.data-00000-of-00001")


@pytest.fixture(scope="module")
def _ckpt_straight(tmp_path_factory):
  """4 steps straight of the tiny config (checkpoints of steps 2 and 4): the folder every test copies, the
  variables at its end (the reference of the resumed runs) and its trainer."""
  workdir = str(tmp_path_factory.mktemp("ckpt_straight") / "run")
  poison_step = tf.Variable(-1, dtype=tf.int64, trainable=False)
  with pytest.MonkeyPatch.context() as patch:
    build_trainer = loop.build_trainer
    patch.setattr(loop, "build_trainer", lambda *args: _ckpt_inf_gradient_hook(build_trainer(*args), poison_step))
    result = train(make_tiny_config(), workdir, log=lambda s: None)
  assert result["step"] == 4
  assert sorted(checkpointing.checkpoint_numbers(checkpointing.checkpoint_dir(workdir))) == [2, 4]
  return {"workdir": workdir, "state": _ckpt_state(result["trainer"]), "trainer": result["trainer"],
          "poison_step": poison_step}


def _ckpt_inf_gradient_hook(trainer, poison_step):
  """`trainer` whose G update adds Inf to the gradient of G's first variable in the step that ends with
  `trainer.step` = `poison_step` (a variable, -1: never), and exactly 0.0 otherwise (the same values). It is in
  the traced step from the start, so the Inf test needs no trace of its own."""
  apply = trainer.g_opt.apply_gradients

  def apply_with_hook(grads_and_vars):
    pairs = list(grads_and_vars)
    poisoned = tf.equal(trainer.step + 1, poison_step)  # the step counter moves after the G update
    grad = pairs[0][0] + tf.where(poisoned, float("inf"), 0.0)
    return apply([(grad, pairs[0][1])] + pairs[1:])
  trainer.g_opt.apply_gradients = apply_with_hook
  return trainer


@pytest.fixture
def _ckpt_reuse(_ckpt_straight, monkeypatch):
  """The runs of a test get the straight run's trainer instead of building one: building the models and
  tracing the step are most of a tiny run's time. Each run restores a checkpoint into it, which must overwrite
  every variable it holds (the straight run's step-4 values, or what an earlier test left): the bit-exact
  comparisons check that too."""
  trainer = _ckpt_straight["trainer"]
  monkeypatch.setattr(loop, "build_trainer", lambda config, strategy, build_models=None: trainer)
  yield trainer
  _ckpt_straight["poison_step"].assign(-1)


def test_garbled_state_file_resumes_from_the_newest_checkpoint(_ckpt_straight, _ckpt_reuse, tmp_path, capsys):
  """A state file of garbage bytes (TensorFlow: "no checkpoint", a restart at step 0): the run says so in one
  line, finds ckpt-4 by its files and resumes there (nothing left to train), skipping nothing; the state file
  is rewritten to list ckpt-2 and ckpt-4, and every checkpoint file and config.json stay byte-identical."""
  workdir = _ckpt_copy(_ckpt_straight, tmp_path)
  state = os.path.join(workdir, "checkpoints", "checkpoint")
  with open(state, "wb") as f:
    f.write(b"\xff\xfe model_checkpoint_path: {{{ garbage")
  before = _ckpt_hashes(workdir)
  code, out, err = _ckpt_cli(tmp_path, workdir, capsys)
  assert code == 0, err
  said = [line for line in out if line.startswith(f"{state} is unreadable (")]
  assert len(said) == 1 and said[0].endswith("): looking for the checkpoints by their files"), out
  assert not [line for line in out if line.startswith("skipping checkpoint")], out
  assert f"resumed from {os.path.join(workdir, 'checkpoints', 'ckpt-4')} at step 4" in out, out
  assert out[-1] == f"done: step 4, workdir {workdir}"
  after = _ckpt_hashes(workdir)
  changed = {k for k in before if before[k] != after.get(k)}
  assert changed == {os.path.join("checkpoints", "checkpoint")}, changed
  restored = tf.train.get_checkpoint_state(os.path.dirname(state))
  assert [os.path.basename(p) for p in restored.all_model_checkpoint_paths] == ["ckpt-2", "ckpt-4"]


def test_missing_newest_index_resumes_from_the_older_one_and_rotation_keeps_it(_ckpt_straight, _ckpt_reuse, tmp_path,
                                                                               capsys):
  """Without ckpt-4.index the run says in one line that it skips ckpt-4 and resumes from ckpt-2; the state file
  then names ckpt-2 alone, so a manager keeping 2 checkpoints that saves step 6 keeps ckpt-2 (with the state
  file naming the broken ckpt-4 it would have deleted ckpt-2). Every checkpoint file stays byte-identical."""
  workdir = _ckpt_copy(_ckpt_straight, tmp_path)
  ckpt_dir = checkpointing.checkpoint_dir(workdir)
  os.remove(os.path.join(ckpt_dir, "ckpt-4.index"))
  before = _ckpt_hashes(workdir)
  code, out, err = _ckpt_cli(tmp_path, workdir, capsys, "--config.train.num_steps=2")
  assert code == 0, err
  skipped = [line for line in out if line.startswith("skipping checkpoint")]
  assert skipped == [f"skipping checkpoint {os.path.join(ckpt_dir, 'ckpt-4')}: its .index file is missing"], out
  assert f"resumed from {os.path.join(ckpt_dir, 'ckpt-2')} at step 2" in out, out
  after = _ckpt_hashes(workdir)
  changed = {k for k in before if before[k] != after.get(k)}
  assert changed == {os.path.join("checkpoints", "checkpoint"), "config.json"}, changed  # config: num_steps 2
  state = tf.train.get_checkpoint_state(ckpt_dir)
  assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == ["ckpt-2"]
  probe = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(1.0)), ckpt_dir, max_to_keep=2)
  probe.save(checkpoint_number=6)
  assert _ckpt_hashes(workdir)[os.path.join("checkpoints", "ckpt-2.index")] == before[
      os.path.join("checkpoints", "ckpt-2.index")]


def test_truncated_newest_data_file_resumes_from_the_older_one_bit_exact(_ckpt_straight, _ckpt_reuse, tmp_path):
  """ckpt-4's data file cut in half (a save cut short by a full disk): one line says ckpt-4 is skipped and why,
  the run resumes from ckpt-2, and its steps 3-4 give BIT-EXACTLY the straight run's variables (every model,
  optimiser slot, the step and the seed generator): the failed restore of ckpt-4 left no value behind.
  ckpt-2 and config.json stay byte-identical, and the new ckpt-4 restores."""
  workdir = _ckpt_copy(_ckpt_straight, tmp_path)
  ckpt_dir = checkpointing.checkpoint_dir(workdir)
  _ckpt_truncate(_ckpt_data(workdir, 4))
  before = _ckpt_hashes(workdir)
  lines = []
  result = train(make_tiny_config(), workdir, log=lines.append)
  skipped = [line for line in lines if line.startswith("skipping checkpoint")]
  assert len(skipped) == 1 and skipped[0].startswith(f"skipping checkpoint {os.path.join(ckpt_dir, 'ckpt-4')}: "), lines
  assert f"resumed from {os.path.join(ckpt_dir, 'ckpt-2')} at step 2" in lines, lines
  assert result["step"] == 4
  _ckpt_assert_same_state(_ckpt_state(result["trainer"]), _ckpt_straight["state"])
  after = _ckpt_hashes(workdir)
  for kept in ("config.json", os.path.join("checkpoints", "ckpt-2.index"),
               os.path.join("checkpoints", "ckpt-2.data-00000-of-00001")):
    assert after[kept] == before[kept], kept
  assert tf.train.latest_checkpoint(ckpt_dir).endswith("ckpt-4")
  assert after[os.path.join("checkpoints", "ckpt-4.data-00000-of-00001")] == _ckpt_hashes(
      _ckpt_straight["workdir"])[os.path.join("checkpoints", "ckpt-4.data-00000-of-00001")]


def test_no_checkpoint_restores_error_exit_2_and_nothing_changes(_ckpt_straight, _ckpt_reuse, tmp_path, capsys):
  """ckpt-4 truncated and a bit flipped in ckpt-2: `dvd-gan-train` skips both (one line each), ends with ONE
  line `error: no checkpoint in ... restores (ckpt-4: ...; ckpt-2: ...) ...` and exit status 2, and every file
  and folder of the workdir (also a killed worker's leftover folder) is byte-identical: it never starts at
  step 0 over them."""
  workdir = _ckpt_copy(_ckpt_straight, tmp_path)
  ckpt_dir = checkpointing.checkpoint_dir(workdir)
  _ckpt_truncate(_ckpt_data(workdir, 4))
  _ckpt_flip_byte(_ckpt_data(workdir, 2))
  os.makedirs(os.path.join(workdir, worker_dirs.ROOT, "4242"))
  before = _ckpt_hashes(workdir)
  code, out, err = _ckpt_cli(tmp_path, workdir, capsys)
  assert code == 2, (out, err)
  assert len(err) == 1 and err[0].startswith(f"error: no checkpoint in {ckpt_dir} restores (ckpt-4: "), err
  assert "; ckpt-2: DataLossError: " in err[0] and "nothing was changed" in err[0], err
  assert [line.split(": ")[0] for line in out if line.startswith("skipping checkpoint")] == [
      f"skipping checkpoint {os.path.join(ckpt_dir, f'ckpt-{n}')}" for n in (4, 2)], out
  assert _ckpt_hashes(workdir) == before


def test_inf_gradient_in_the_last_step_of_a_call_stops_without_saving(_ckpt_straight, _ckpt_reuse, tmp_path,
                                                                      capsys):
  """Resumed at step 4 for steps 5-6 in one call (steps_per_loop=2), G's first variable gets an Inf gradient in
  the G update of step 6: the losses of step 6 are still finite (logged), but the weights are NaN. The run
  saves nothing: `error: non-finite variable at step 6: G/<that variable> ... last good checkpoint: ckpt-4`,
  exit 1; the checkpoint folder (files and state file) stays byte-identical."""
  workdir = _ckpt_copy(_ckpt_straight, tmp_path)
  poisoned = f"G/{_ckpt_reuse.g_vars[0].path}"
  _ckpt_straight["poison_step"].assign(6)
  before = _ckpt_hashes(checkpointing.checkpoint_dir(workdir))
  code, out, err = _ckpt_cli(tmp_path, workdir, capsys, "--config.train.num_steps=6",
                             "--config.train.steps_per_loop=2")
  assert code == 1, (out, err)
  step6 = [line for line in out if line.startswith("step 6/6")]
  assert len(step6) == 1 and "nan" not in step6[0] and "inf" not in step6[0], out
  last_good = os.path.join(checkpointing.checkpoint_dir(workdir), "ckpt-4")
  assert len(err) == 1 and err[0].startswith(f"error: non-finite variable at step 6: {poisoned} "), err
  assert err[0].endswith(f"; stopped without saving, last good checkpoint: {last_good}"), err
  assert _ckpt_hashes(checkpointing.checkpoint_dir(workdir)) == before


def test_best_json_rolls_back_to_the_restored_step(_ckpt_straight, _ckpt_reuse, tmp_path):
  """A run that evaluated at steps 2 (FVD 100) and 4 (FVD 80, the best: checkpoints_best/ckpt-4) resumes from
  ckpt-2 (ckpt-4 truncated): metrics.jsonl keeps the line of step 2 byte for byte, best.json goes back to step
  2 (FVD 100), checkpoints_best/ holds ckpt-2 alone, made from the restored G_ema (the values of
  checkpoints/ckpt-2), so `--checkpoint=best` and best.json agree."""
  workdir = _ckpt_copy(_ckpt_straight, tmp_path)
  ckpt_dir, best_dir = checkpointing.checkpoint_dir(workdir), os.path.join(workdir, "checkpoints_best")
  lines2 = json.dumps({"step": 2, "demo_fvd/fvd": 100.0, "seconds": 0.1, "best": True}) + "\n"
  lines4 = json.dumps({"step": 4, "demo_fvd/fvd": 80.0, "seconds": 0.1, "best": True}) + "\n"
  with open(os.path.join(workdir, "metrics.jsonl"), "w") as f:
    f.write(lines2 + lines4)
  with open(os.path.join(workdir, "best.json"), "w") as f:
    json.dump({"step": 4, "metric": "demo_fvd/fvd", "value": 80.0}, f)
  os.makedirs(best_dir)
  for name in os.listdir(ckpt_dir):
    if name.startswith("ckpt-4."):
      shutil.copy(os.path.join(ckpt_dir, name), best_dir)
  checkpointing.write_state(best_dir, [os.path.join(best_dir, "ckpt-4")], [2.0], 1.0)
  _ckpt_truncate(_ckpt_data(workdir, 4))
  config = make_tiny_config(num_steps=2)
  config.eval.every_steps = 2
  config.eval.protocols = ("demo_fvd",)
  lines = []
  train(config, workdir, log=lines.append, metric_fn=lambda step, trainer: {"demo_fvd/fvd": 1.0})
  assert any(line.startswith("best.json: dropped the best of step 4") and "best is step 2" in line
             for line in lines), lines
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    assert f.read() == lines2
  with open(os.path.join(workdir, "best.json")) as f:
    assert json.load(f) == {"step": 2, "metric": "demo_fvd/fvd", "value": 100.0}
  assert sorted(checkpointing.checkpoint_numbers(best_dir)) == [2]
  assert tf.train.latest_checkpoint(best_dir) == os.path.join(best_dir, "ckpt-2")
  best = checkpointing.read_checkpoint(os.path.join(best_dir, "ckpt-2"))
  full = checkpointing.read_checkpoint(os.path.join(ckpt_dir, "ckpt-2"))
  keys = [k for k in best.get_variable_to_shape_map() if k.startswith("G_ema/") and k.endswith("VARIABLE_VALUE")]
  assert len(keys) == len([k for k in _ckpt_straight["state"] if k.startswith("G_ema/")])
  for k in keys:
    np.testing.assert_array_equal(best.get_tensor(k), full.get_tensor(k), err_msg=k)
  assert int(best.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == 2


def test_best_json_without_a_kept_checkpoint_becomes_none(tmp_path):
  """Rolled back to step 3 with evaluations at steps 2 (the best then; its checkpoint rotated away) and 4
  (dropped): no checkpoint of step 2 exists and G_ema is not step 2's, so best.json and checkpoints_best/
  are removed (no best rather than a best that does not match its checkpoint)."""
  workdir = str(tmp_path)
  generator = tf.keras.layers.Dense(2)
  generator.build((None, 3))
  best_dir = os.path.join(workdir, "checkpoints_best")
  best = best_checkpoint.BestCheckpoint(workdir, generator, tf.Variable(0, dtype=tf.int64), "demo_fvd/fvd", False)
  best.update(4, 80.0)
  assert sorted(checkpointing.checkpoint_numbers(best_dir)) == [4]
  lines = []
  best.roll_back(3, [{"step": 2, "demo_fvd/fvd": 100.0}], log=lines.append)
  assert not os.path.exists(os.path.join(workdir, "best.json"))
  assert not os.listdir(best_dir) and best.best is None
  assert lines == ["best.json: dropped the best of step 4 (after step 3, where training resumes); no best before it"]


def test_leftover_worker_folders_are_removed_never_a_live_worker_s(tmp_path):
  """Folders in tmp_worker_checkpoints/: a non-chief worker (worker-1 of 3) removes only its own task's
  (left by a killed earlier process of the same task), never worker-2's (live); the chief removes those of
  tasks outside the cluster (worker-5, a process-id folder) and keeps every task's of the cluster. A process
  outside a multi-worker cluster removes them all."""
  root = tmp_path / worker_dirs.ROOT
  names = ["worker-1", "worker-2", "worker-5", "4242"]

  def make():
    for name in names:
      (root / name).mkdir(parents=True, exist_ok=True)
      (root / name / "ckpt-2.index").write_bytes(b"x")

  def strategy(task_id):
    spec = tf.train.ClusterSpec({"worker": [f"127.0.0.1:{p}" for p in (1, 2, 3)]})
    return types.SimpleNamespace(cluster_resolver=tf.distribute.cluster_resolver.SimpleClusterResolver(
        spec, task_type="worker", task_id=task_id))

  make()
  lines = []
  assert worker_dirs.remove_leftovers(str(tmp_path), strategy(1), chief=False, log=lines.append) == "worker-1"
  assert sorted(os.listdir(root)) == ["4242", "worker-2", "worker-5"]
  assert lines == [f"removed 1 folder(s) left in {root} by killed workers: worker-1"]
  make()
  assert worker_dirs.remove_leftovers(str(tmp_path), strategy(0), chief=True, log=lines.append) == "worker-0"
  assert sorted(os.listdir(root)) == ["worker-1", "worker-2"]
  assert worker_dirs.remove_leftovers(str(tmp_path), tf.distribute.get_strategy(), chief=True, log=lines.append) is None
  assert os.listdir(root) == []
  assert worker_dirs.worker_dir(str(tmp_path), "worker-1") == str(root / "worker-1")
