"""Fault injection: each test breaks one thing a long run depends on and checks what the user sees (the
one line, the exit status) and what is kept (files byte for byte). The scenarios and their outcomes are
tabled in docs/reliability.md. Four parts:

## checkpoints

Fault injection on a run's checkpoints: what a resumed, a diverging or a restarted run does with them.

Every test starts from a copy of one straight 4-step run of the tiny config (checkpoints of steps 2 and 4,
train.deterministic=True; tests/straight_run.py's `default_run`, which the training tests share), breaks
something in it, and checks what the user sees (the lines, the exit status
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
which adds exactly 0.0 until a test arms it. Each run restores a checkpoint into that trainer, whose every
variable was first set to other values: the bit-exact comparison also checks that a restore overwrites every
variable.

## one trainer per workdir, config changes on resume, retried writes

Fault injection: one trainer per workdir (dvd_gan.training.workdir_lock), what a resume may change
(dvd_gan.training.config_changes) and retried writes of samples, TensorBoard events and metrics lines.

The runs resumed here start from a run folder made without training (`_lock_base_run`: the tiny model's full
state saved as the checkpoint of step 4 = train.num_steps, its config.json and a metrics.jsonl), so a resume
builds, restores and finishes without a training step.

## signals during evaluation, sample writing and the end-of-run figures

Signals during the long parts of a run: periodic evaluation, sample writing, the end-of-run figures.

A SIGTERM / first SIGINT stops them at their next batch (dvd_gan.training.preemption.StopFlag.requested as the
`should_stop` callback of eval.interrupt), the run saves the step it is at and returns `stopped_by` = the
signal, and nothing of the stopped work is written; a second SIGINT raises KeyboardInterrupt at once.

## damaged .npz files, serving bounds, the Kinetics builder's workers

Fault injection on what the project reads and serves: damaged .npz files, a SavedModel asked for too much,
and a Kinetics build whose decoder workers crash or hang.

Each test damages one thing and checks the documented outcome (docs/reliability.md): a one-line error that
names the file, a refusal before any allocation, or a clip counted as unreadable while the build goes on.
The serving tests use the export of a tiny generator that tests/dvd_gan/test_sample.py uses too
(tests/generator_export.py: made once per test process; slow through it).
"""
import csv
import dataclasses
import errno
import fcntl
import hashlib
import importlib
import json
import os
import pickle
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import traceback
import types
import uuid
import zipfile

import av
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from dvd_gan import export as export_lib
from dvd_gan import predict as predict_lib
from dvd_gan import sampling
from dvd_gan import sample as sample_cmd
from dvd_gan import train as train_cli
from dvd_gan.config import base_config, resolve_config
from dvd_gan.data import kinetics600, worker_pool
from dvd_gan.errors import UserError
from dvd_gan.evaluation import best_checkpoint, periodic
from dvd_gan.training import (checkpointing, config_changes, loop, preemption, resume, summaries, worker_dirs,
                              workdir_lock)
from dvd_gan.training.loop import train
import eval as video_eval
from eval import api as eval_api
from eval import cli, npz, video_io, video_writer
from eval import io as eio
from eval import real_stats
from eval.errors import EvalError
from eval.interrupt import Interrupted
from eval.protocols import get_protocol
from eval.stats import FeatureStats
from eval.weights import files as weight_files
from tests.dvd_gan.training.conftest import make_tiny_config
from tests.eval.conftest import TinyNetwork, random_videos
from tests.generator_export import Z_DIM
from tests.straight_run import assign_state, trainer_state


# ======== checkpoints =========================================================================================

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The tiny config as a config file for `dvd-gan-train --config=FILE`, in this process or a new one.
_CONFIG_FILE = """
import sys
sys.path.insert(0, {repo!r})
from tests.dvd_gan.training.conftest import make_tiny_config


def get_config():
  c = make_tiny_config({train_overrides})
{extra}  return c
"""


def _config_file(folder, name="config.py", train_overrides="", extra="") -> str:
  """Writes `folder/name`: make_tiny_config(**train_overrides) with `extra` lines (indented, ending in a newline)
  applied to `c`; returns its path."""
  path = os.path.join(str(folder), name)
  with open(path, "w") as f:
    f.write(_CONFIG_FILE.format(repo=_REPO, train_overrides=train_overrides, extra=extra))
  return path


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
  config_path = _config_file(tmp_path, "ckpt_config.py")
  capsys.readouterr()
  code = train_cli.main(["dvd-gan-train", f"--config={config_path}", f"--workdir={workdir}", *overrides])
  out, err = capsys.readouterr()
  return code, out.strip().splitlines(), [line for line in err.splitlines() if line.strip()]


def _ckpt_data(workdir, n) -> str:
  return os.path.join(workdir, "checkpoints", f"ckpt-{n}.data-00000-of-00001")


@pytest.fixture(scope="module")
def _ckpt_straight(default_run):
  """The straight 4-step run of the tiny config (tests/straight_run.py, shared with the training tests:
  checkpoints of steps 2 and 4): the folder every test copies, the variables at its end (the reference of the
  resumed runs), its trainer and the variable that arms its Inf-gradient hook."""
  workdir = default_run["workdir"]
  assert default_run["result"]["step"] == 4
  assert sorted(checkpointing.checkpoint_numbers(checkpointing.checkpoint_dir(workdir))) == [2, 4]
  return {"workdir": workdir, "state": default_run["state"], "trainer": default_run["result"]["trainer"],
          "poison_step": default_run["poison_step"]}


@pytest.fixture
def _ckpt_reuse(_ckpt_straight, monkeypatch):
  """The runs of a test get the straight run's trainer instead of building one: building the models and
  tracing the step are most of a tiny run's time. Every variable of it is first set to other values (its
  end values plus one), so each run's restore must overwrite every variable it holds: the bit-exact
  comparisons check that too. Afterwards the trainer gets its end values back (the training tests read them)."""
  trainer = _ckpt_straight["trainer"]
  assign_state(trainer, {k: v + 1 for k, v in _ckpt_straight["state"].items()})
  monkeypatch.setattr(loop, "build_trainer", lambda config, strategy, build_models=None: trainer)
  yield trainer
  _ckpt_straight["poison_step"].assign(-1)
  assign_state(trainer, _ckpt_straight["state"])


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
  _ckpt_assert_same_state(trainer_state(result["trainer"]), _ckpt_straight["state"])
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
  assert lines == ["best.json: dropped the best of step 4 (after step 3, where training resumes); the best before it "
                   "(step 2, demo_fvd/fvd 100) has no checkpoint left (checkpoints_best/ keeps one): no best until "
                   "the next evaluation"]


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


def _ckpt_unavailable(path):
  return tf.errors.UnavailableError(None, None, f"{path}: injected: the storage does not answer")


def test_storage_error_reading_the_state_file_exits_2_and_nothing_changes(_ckpt_straight, _ckpt_reuse, tmp_path,
                                                                          capsys, monkeypatch):
  """Reading `checkpoints/checkpoint` raises UnavailableError (storage that does not answer, not a garbled
  file): `dvd-gan-train` ends with ONE line `error: cannot read <checkpoints folder>: UnavailableError: ...
  nothing was changed ...`, exit 2, and every file is byte-identical (no fallback to the files, no rewritten
  state file, no restart at step 0)."""
  workdir = _ckpt_copy(_ckpt_straight, tmp_path)
  ckpt_dir = checkpointing.checkpoint_dir(workdir)
  read_text = eio.read_text

  def failing_read(path):
    if eio.basename(path) == checkpointing.STATE_FILE:
      raise _ckpt_unavailable(path)
    return read_text(path)
  monkeypatch.setattr(eio, "read_text", failing_read)
  before = _ckpt_hashes(workdir)
  code, out, err = _ckpt_cli(tmp_path, workdir, capsys)
  assert code == 2, (out, err)
  assert len(err) == 1 and err[0].startswith(f"error: cannot read {ckpt_dir}: UnavailableError: "), err
  assert "nothing was changed" in err[0], err
  assert not [line for line in out if "looking for the checkpoints" in line or "resumed" in line], out
  assert _ckpt_hashes(workdir) == before


def test_storage_error_listing_the_checkpoints_exits_2_and_nothing_changes(_ckpt_straight, _ckpt_reuse, tmp_path,
                                                                           capsys, monkeypatch):
  """Listing `checkpoints/ckpt-*` raises UnavailableError: ONE line `error: cannot read <checkpoints folder>:
  ...`, exit 2, every file byte-identical; never "no checkpoint" and a run from step 0 over the stored one."""
  workdir = _ckpt_copy(_ckpt_straight, tmp_path)
  ckpt_dir = checkpointing.checkpoint_dir(workdir)
  glob = eio.glob

  def failing_glob(pattern):
    if eio.basename(pattern) == "ckpt-*":
      raise _ckpt_unavailable(pattern)
    return glob(pattern)
  monkeypatch.setattr(eio, "glob", failing_glob)
  before = _ckpt_hashes(workdir)
  code, out, err = _ckpt_cli(tmp_path, workdir, capsys)
  assert code == 2, (out, err)
  assert len(err) == 1 and err[0].startswith(f"error: cannot read {ckpt_dir}: UnavailableError: "), err
  assert _ckpt_hashes(workdir) == before
  lines = []
  with pytest.raises(UserError, match="cannot read .*UnavailableError.*nothing was changed"):
    resume.restore_newest(None, workdir, log=lines.append)
  assert lines == []


def test_checkpoint_of_another_model_shape_is_a_user_error_not_a_fallback(tmp_path):
  """The newest checkpoint (ckpt-2) holds a variable of shape [3] where the trainer's has shape [4] (a shape
  key changed through train.allow_config_change): the resume ends at once with ONE UserError line saying the
  checkpoint does not fit the model of this config, instead of skipping it as damaged, restoring the older
  ckpt-1 (which fits) and rewriting the state file; every file stays byte-identical."""
  workdir = str(tmp_path)
  ckpt_dir = checkpointing.checkpoint_dir(workdir)
  for n, size in ((1, 4), (2, 3)):
    tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(tf.zeros([size]))), ckpt_dir,
                               max_to_keep=2).save(checkpoint_number=n)
  before = _ckpt_hashes(workdir)
  lines = []
  with pytest.raises(UserError) as raised:
    resume.restore_newest(tf.train.Checkpoint(v=tf.Variable(tf.ones([4]))), workdir, log=lines.append)
  message = str(raised.value)
  assert message.startswith(f"checkpoint {os.path.join(ckpt_dir, 'ckpt-2')} does not fit the model of this "
                            "config (ValueError: "), message
  assert message.endswith("remove the shape key from train.allow_config_change") and "\n" not in message
  assert lines == []
  assert _ckpt_hashes(workdir) == before


def test_storage_error_looking_for_a_checkpoint_s_files_is_a_user_error(tmp_path, monkeypatch):
  """Asking whether a checkpoint's `.index` exists raises UnavailableError: one UserError line (cannot read
  checkpoint ...; nothing was changed), not a traceback and not "its files are missing"; files byte-identical."""
  workdir = str(tmp_path)
  ckpt_dir = checkpointing.checkpoint_dir(workdir)
  tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(tf.zeros([2]))), ckpt_dir,
                             max_to_keep=1).save(checkpoint_number=1)
  before = _ckpt_hashes(workdir)
  exists = eio.exists

  def failing_exists(path):
    if str(path).endswith(".index"):
      raise _ckpt_unavailable(path)
    return exists(path)
  monkeypatch.setattr(eio, "exists", failing_exists)
  with pytest.raises(UserError, match=r"^cannot read checkpoint .*ckpt-1: UnavailableError: .*nothing was changed"):
    resume.restore_newest(tf.train.Checkpoint(v=tf.Variable(tf.ones([2]))), workdir, log=lambda s: None)
  assert _ckpt_hashes(workdir) == before

# ======== one trainer per workdir, config changes on resume, retried writes ===================================


def _lock_config_file(folder) -> str:
  return _config_file(folder, "lock_config.py")


def _lock_env():
  return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=_REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _lock_files(folder) -> dict:
  """{relative path: bytes} of every file under a local folder."""
  out = {}
  for root, _, names in os.walk(folder):
    for name in names:
      path = os.path.join(root, name)
      with open(path, "rb") as f:
        out[os.path.relpath(path, folder)] = f.read()
  return out


@pytest.fixture(scope="module")
def _lock_base_run(_ckpt_straight, tmp_path_factory):
  """{"folder": a run folder at its end: the straight run's checkpoints (ckpt-4 at train.num_steps = 4) and
  config.json (the resolved tiny config), no samples, and a metrics.jsonl line; "models": the straight run's
  (G, DS, DT), which a resume may take instead of building its own (the checkpoint restores them)}."""
  folder = str(tmp_path_factory.mktemp("lock_base_run") / "run")
  shutil.copytree(_ckpt_straight["workdir"], folder)
  shutil.rmtree(os.path.join(folder, "samples"))
  periodic.append_record(folder, {"step": 2, "demo_fvd/fvd": 1.0, "seconds": 0.1})
  trainer = _ckpt_straight["trainer"]
  return {"folder": folder, "models": (trainer.G, trainer.DS, trainer.DT)}


@pytest.fixture
def _lock_run(_lock_base_run, tmp_path):
  """A fresh copy of `_lock_base_run` for one test."""
  folder = str(tmp_path / "run")
  shutil.copytree(_lock_base_run["folder"], folder)
  return folder


def _lock_flaky_rename(monkeypatch, fragment: str, failures: int | None):
  """Makes tf.io.gfile.rename (the last step of every eio write) raise UnavailableError for targets whose
  path contains `fragment`: the first `failures` times (None: always). Returns the list of failed targets."""
  real = tf.io.gfile.rename
  failed = []

  def rename(src, dst, overwrite=False):
    if fragment in str(dst) and (failures is None or len(failed) < failures):
      failed.append(str(dst))
      raise tf.errors.UnavailableError(None, None, f"injected storage failure writing {dst}")
    return real(src, dst, overwrite=overwrite)

  monkeypatch.setattr(tf.io.gfile, "rename", rename)
  monkeypatch.setattr(eio, "RETRY_DELAY_SECONDS", 0.01)
  return failed


# ---- the workdir lock ----------------------------------------------------------------------------------------

_LOCK_HOLDER = """
import sys, time
from dvd_gan.training.workdir_lock import WorkdirLock
WorkdirLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_lock_live_holder_stops_a_second_trainer_then_its_dead_lock_is_taken_over(tmp_path, capsys):
  """A live process holds the workdir's lock: `dvd-gan-train` on that workdir (in-process main: the holder is
  another process all the same) exits with status 2 within 90 s, its stderr ONE line `error: ...` naming the
  holder's host, pid and start time, and it writes nothing there. Once the holder is killed (SIGKILL: no
  release), the next trainer on this host takes the lock over at once with one warning line saying its
  process has ended."""
  workdir = str(tmp_path / "run")
  config_path = _lock_config_file(tmp_path)
  holder = subprocess.Popen([sys.executable, "-c", _LOCK_HOLDER, workdir], cwd=_REPO, env=_lock_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "held", holder.stderr.read()
    record = json.load(open(os.path.join(workdir, workdir_lock.LOCK_FILE)))
    before = _lock_files(workdir)
    capsys.readouterr()
    t0 = time.time()
    code = train_cli.main(["dvd-gan-train", f"--config={config_path}", f"--workdir={workdir}"])
    seconds = time.time() - t0
    out, err = capsys.readouterr()
    lines = [l for l in err.splitlines() if l.startswith("error: ") or "Traceback" in l]
    assert code == 2, (out, err[-3000:])
    assert seconds < 90, seconds
    assert len(lines) == 1, err[-3000:]
    assert (f"host {socket.gethostname()}" in lines[0] and f"pid {holder.pid}" in lines[0]
            and f"since {record['since']}" in lines[0]), lines
    assert sorted(_lock_files(workdir)) == sorted(before) == [workdir_lock.LOCK_FILE]  # nothing else written
    assert json.load(open(os.path.join(workdir, workdir_lock.LOCK_FILE)))["token"] == record["token"]
  finally:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
  lines = []
  with workdir_lock.WorkdirLock(workdir, log=lines.append) as lock:
    assert json.load(open(lock.path))["pid"] == os.getpid()
  assert len(lines) == 1 and lines[0].startswith("warning: taking over") and f"pid {holder.pid}" in lines[0]
  assert "its process has ended" in lines[0], lines
  assert not os.path.exists(os.path.join(workdir, workdir_lock.LOCK_FILE))


def test_lock_on_an_object_store_path(monkeypatch):
  """On ram:// (tf.io.gfile, as gs://): a second lock on a held workdir fails naming the holder; the
  heartbeat rewrites the lock's time; release removes it. A lock from another host is taken over (with a
  warning) only once it has had no heartbeat for stale_seconds; a holder whose lock was taken over notices
  (`lost`, one warning) and leaves the new holder's lock in place."""
  workdir = f"ram://lock_{uuid.uuid4().hex}/run"
  path = eio.join(workdir, workdir_lock.LOCK_FILE)
  lines = []
  first = workdir_lock.WorkdirLock(workdir, log=lines.append, heartbeat_seconds=0.05).acquire()
  beat = eio.read_json(path)["heartbeat"]
  with pytest.raises(UserError, match=f"in use by another trainer: host {socket.gethostname()}, pid {os.getpid()}"):
    workdir_lock.WorkdirLock(workdir).acquire()
  deadline = time.time() + 10
  while eio.read_json(path)["heartbeat"] == beat:
    assert time.time() < deadline, "no heartbeat"
    time.sleep(0.05)
  first.release()
  assert not eio.exists(path) and lines == []

  other = {"host": "elsewhere", "pid": 1, "since": "2026-01-01T00:00:00Z", "token": "other", "boot": "b",
           "start": None}
  eio.write_json(path, dict(other, heartbeat=time.time() - 30))
  with pytest.raises(UserError, match="host elsewhere, pid 1"):
    workdir_lock.WorkdirLock(workdir, stale_seconds=60).acquire()
  eio.write_json(path, dict(other, heartbeat=time.time() - 61))
  lines = []
  lock = workdir_lock.WorkdirLock(workdir, log=lines.append, stale_seconds=60, heartbeat_seconds=0.05).acquire()
  assert len(lines) == 1 and "taking over" in lines[0] and "no heartbeat for 61 s" in lines[0], lines
  eio.write_json(path, dict(other, heartbeat=time.time()))  # another trainer took it over meanwhile
  deadline = time.time() + 10
  while not lock.lost:
    assert time.time() < deadline, "the heartbeat did not notice"
    time.sleep(0.05)
  lock.release()
  assert eio.read_json(path)["token"] == "other"
  assert len(lines) == 2 and "now held by host elsewhere" in lines[1], lines


@pytest.mark.parametrize("strategy, tf_config, chief", [
    ("default", None, True),
    ("multi_worker", {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}, True),
    ("multi_worker", {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}, False),
    ("multi_worker", {"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}},
     False),
    ("multi_worker", {"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}},
     True),
])
def test_lock_only_the_chief_takes_it(strategy, tf_config, chief):
  """Multi-worker runs: the chief (or worker 0 of a cluster without one) takes the lock, no other worker."""
  assert workdir_lock.is_chief_task(strategy, json.dumps(tf_config) if tf_config else "") == chief


def test_lock_on_a_workdir_that_cannot_be_written_is_a_user_error(tmp_path):
  """A workdir that cannot be created (its parent is a file) is the user's error: one line, no traceback."""
  (tmp_path / "file").write_text("")
  with pytest.raises(UserError, match="cannot take the lock"):
    workdir_lock.WorkdirLock(str(tmp_path / "file" / "run")).acquire()


def test_lock_held_while_train_runs_and_released_when_it_raises(tmp_path):
  """train() holds the lock (this process's pid) while it builds the models, and removes it when it ends with
  an exception."""
  workdir = str(tmp_path / "run")
  seen = {}

  def build_and_fail(cfg):
    seen.update(json.load(open(os.path.join(workdir, workdir_lock.LOCK_FILE))))
    raise RuntimeError("injected failure while building")

  with pytest.raises(RuntimeError, match="injected failure"):
    train(make_tiny_config(), workdir, build_models=build_and_fail, log=lambda s: None)
  assert seen["pid"] == os.getpid() and seen["host"] == socket.gethostname()
  assert not os.path.exists(os.path.join(workdir, workdir_lock.LOCK_FILE))


# ---- what a resume may change ------------------------------------------------------------------------------


def test_lock_every_config_key_is_classified():
  """Every key of the base config is in exactly one of the explicit lists (a new key forces a decision); a
  key in neither counts as changing the run."""
  keys = set(config_changes.flatten(json.loads(json.dumps(base_config().to_dict()))))
  run, schedule = set(config_changes.RUN_KEYS), set(config_changes.SCHEDULE_KEYS)
  assert not run & schedule, run & schedule
  assert keys == run | schedule, (keys - run - schedule, run | schedule - keys)


def test_lock_changed_batch_size_on_resume_exits_2_and_changes_nothing(_lock_run, tmp_path, capsys):
  """Resuming with another batch size through the train CLI: exit status 2, ONE line naming batch_size with
  the run's and the new value, and every file of the run (config.json, checkpoints, metrics.jsonl) is
  byte-identical afterwards, with no lock left behind."""
  before = _lock_files(_lock_run)
  code = train_cli.main(["dvd-gan-train", f"--config={_lock_config_file(tmp_path)}", f"--workdir={_lock_run}",
                         "--config.batch_size=8"])
  out, err = capsys.readouterr()
  lines = err.strip().splitlines()
  assert code == 2, (out, err)
  assert len(lines) == 1 and lines[0].startswith("error: ") and "batch_size 4 -> 8" in lines[0], lines
  assert "allow_config_change=batch_size" in lines[0]
  assert _lock_files(_lock_run) == before


def test_lock_unknown_key_counts_as_changing_the_run(_lock_run):
  """A key the lists do not know (here one only the stored config.json has) ends the resume with its name."""
  path = os.path.join(_lock_run, "config.json")
  stored = json.load(open(path))
  stored["model"]["new_option"] = 3
  with open(path, "w") as f:
    json.dump(stored, f)
  with pytest.raises(UserError, match=r"model.new_option 3 -> \"\(absent\)\""):
    config_changes.check_resume(resolve_config(make_tiny_config()), _lock_run, log=lambda s: None)


def test_lock_allowed_and_schedule_changes_resume_keep_history_and_skip_failing_samples(_lock_run, _lock_base_run,
                                                                                       monkeypatch):
  """Resuming with batch_size 4 -> 8 listed in train.allow_config_change and schedule-only changes
  (train.sample_every 2 -> 3, train.log_every 2 -> 1): the run resumes (restored at step 4, its end) and one
  line lists the schedule changes and the allowed one; config.json holds the new config and the earlier file
  is kept byte-identical as config.1.json. The run's end then samples (step 4 is no multiple of 3) while
  every write of a sample file fails: one warning line, no sample file, and the run finishes normally."""
  earlier = _lock_files(_lock_run)["config.json"]
  failed = _lock_flaky_rename(monkeypatch, "samples_", None)
  config = make_tiny_config(allow_config_change="batch_size", sample_every=3, log_every=1)
  config.batch_size = 8
  lines = []
  result = train(config, _lock_run, log=lines.append, build_models=lambda cfg: _lock_base_run["models"])
  assert result["step"] == 4 and result["stopped_by"] is None
  assert any("resumed from" in l and "at step 4" in l for l in lines), lines
  changed = [l for l in lines if l.startswith("resuming with config changes")]
  assert changed == ['resuming with config changes: schedule train.allow_config_change "" -> "batch_size", '
                     "train.log_every 2 -> 1, train.sample_every 2 -> 3; allowed by train.allow_config_change: "
                     "batch_size 4 -> 8"], lines
  files = _lock_files(_lock_run)
  assert files["config.1.json"] == earlier
  assert json.loads(files["config.json"])["batch_size"] == 8
  assert workdir_lock.LOCK_FILE not in files
  warnings = [l for l in lines if l.startswith("warning: samples")]
  assert len(warnings) == 1 and "png,gif,mp4" in warnings[0] and "injected storage failure" in warnings[0]
  assert len(failed) == 3 * eio.RETRY_ATTEMPTS
  assert not [name for name in files if name.startswith("samples")]


# ---- retried writes ----------------------------------------------------------------------------------------


def test_lock_sample_and_metrics_writes_retried_until_they_succeed(monkeypatch):
  """On ram://, a storage layer that fails twice, then works: the sample files and the metrics.jsonl line
  are written (once, complete), with no warning and no temporary file left."""
  root = f"ram://lock_{uuid.uuid4().hex}"
  failed = _lock_flaky_rename(monkeypatch, "samples_0000002.png", 2)
  videos = np.linspace(-1, 1, 2 * 3 * 8 * 8 * 3, dtype=np.float32).reshape(2, 3, 8, 8, 3)
  lines = []
  out = summaries.write_samples(eio.join(root, "samples"), "samples_0000002", videos, log=lines.append)
  assert len(failed) == 2 and lines == []
  for ext in ("png", "gif", "mp4"):
    assert out[ext] and len(eio.read_bytes(out[ext])) > 0
  assert sorted(eio.listdir(eio.join(root, "samples"))) == [f"samples_0000002.{e}" for e in ("gif", "mp4", "png")]

  failed = _lock_flaky_rename(monkeypatch, periodic.METRICS_FILE, 2)
  periodic.append_record(root, {"step": 2, "x": 1.0})
  assert len(failed) == 2
  assert periodic.read_metrics(root) == [{"step": 2, "x": 1.0}]


def test_lock_metrics_line_that_keeps_failing_fails_loudly(monkeypatch, tmp_path):
  """A metrics.jsonl line whose write keeps failing raises after the retries (the run must not go on with
  a line missing); the file keeps its earlier lines."""
  periodic.append_record(str(tmp_path), {"step": 1})
  failed = _lock_flaky_rename(monkeypatch, periodic.METRICS_FILE, None)
  with pytest.raises(tf.errors.UnavailableError):
    periodic.append_record(str(tmp_path), {"step": 2})
  assert len(failed) == eio.RETRY_ATTEMPTS
  assert periodic.read_metrics(str(tmp_path)) == [{"step": 1}]


def test_lock_tensorboard_flush_retried_then_skipped(monkeypatch):
  """A TensorBoard writer whose flush fails twice is flushed on the third try, silently; one that keeps
  failing is skipped with one warning line (no exception)."""
  monkeypatch.setattr(eio, "RETRY_DELAY_SECONDS", 0.01)

  class Writer:
    def __init__(self, failures):
      self.failures, self.calls = failures, 0

    def flush(self):
      self.calls += 1
      if self.failures is None or self.calls <= self.failures:
        raise tf.errors.UnavailableError(None, None, "injected events failure")

  lines = []
  writer = Writer(2)
  summaries.flush(writer, lines.append)
  assert writer.calls == 3 and lines == []
  writer = Writer(None)
  summaries.flush(writer, lines.append)
  assert writer.calls == eio.RETRY_ATTEMPTS
  assert len(lines) == 1 and lines[0].startswith("warning: writing TensorBoard events failed"), lines


def test_lock_malformed_lock_file_is_taken_over_with_one_line(tmp_path):
  """A lock file whose heartbeat is not a number ("soon") is unreadable, not a crash: the next trainer takes
  it over with ONE warning line (holder described without the heartbeat age) and holds the lock."""
  workdir = str(tmp_path)
  path = os.path.join(workdir, workdir_lock.LOCK_FILE)
  with open(path, "w") as f:
    json.dump({"host": "elsewhere", "pid": 7, "since": "2026-01-01T00:00:00Z", "heartbeat": "soon"}, f)
  lines = []
  lock = workdir_lock.WorkdirLock(workdir, log=lines.append).acquire()
  try:
    assert lines == [f"warning: taking over the lock of workdir {workdir} held by host elsewhere, pid 7, since "
                     "2026-01-01T00:00:00Z: the lock file is unreadable"], lines
    assert json.load(open(path))["token"] == lock.record["token"]
  finally:
    lock.release()
  assert workdir_lock.describe({"heartbeat": [1]}, 0.0) == "host ?, pid ?, since ?"


@pytest.mark.parametrize("tf_config", ['{"task": {"type": "worker", "index": "first"}}', "[1, 2]",
                                       '{"task": "worker"}', '{"task": {"type": "worker", "index": [0]}}'])
def test_lock_malformed_tf_config_leaves_the_error_to_the_strategy(tf_config):
  """A TF_CONFIG with a non-integer task index or a non-object JSON: `is_chief_task` answers True (the chief
  takes the lock) instead of raising, so make_strategy reports the bad TF_CONFIG in its one line."""
  assert workdir_lock.is_chief_task("multi_worker", tf_config) is True


def test_lock_local_mutex_is_a_regular_file_opened_for_writing(tmp_path, monkeypatch):
  """NFS clients emulate flock with fcntl byte-range locks, which need a file open for writing (EBADF on a
  folder opened read-only): flock here raises EBADF as NFS would. Taking over a dead holder's lock, the
  heartbeat's refresh and the release each lock a regular file opened read-write with lockf, and leave no
  mutex file behind."""
  def nfs_flock(fd, op):
    raise OSError(9, "Bad file descriptor")  # what an NFS client answers for a folder opened read-only
  monkeypatch.setattr(fcntl, "flock", nfs_flock)
  lockf, locked = fcntl.lockf, []

  def checked_lockf(fd, op, *args):
    mode = os.fstat(fd).st_mode
    locked.append((stat.S_ISREG(mode), fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDWR, op))
    return lockf(fd, op, *args)
  monkeypatch.setattr(fcntl, "lockf", checked_lockf)
  workdir = str(tmp_path)
  with open(os.path.join(workdir, workdir_lock.LOCK_FILE), "w") as f:  # a dead holder: heartbeat long ago
    json.dump({"host": "elsewhere", "pid": 7, "since": "2026-01-01T00:00:00Z", "heartbeat": 0.0}, f)
  lines = []
  lock = workdir_lock.WorkdirLock(workdir, log=lines.append).acquire()
  lock._refresh()
  assert not lock.lost
  lock.release()
  assert len(lines) == 1 and lines[0].startswith("warning: taking over the lock"), lines
  assert locked == [(True, True, fcntl.LOCK_EX)] * 3, locked  # takeover, refresh, release
  assert os.listdir(workdir) == []


def test_lock_without_hard_links_is_created_exclusively_and_read_when_complete(tmp_path, monkeypatch):
  """A mount without hard links (gcsfuse: link(2) fails with EPERM / ENOTSUP): the lock is created with
  O_EXCL, holds the complete record, and a second trainer is refused (the holder is live); a lock file found
  empty (being written) is read again once, not called unreadable and taken over."""
  def no_link(src, dst):
    raise OSError(errno.EPERM, "Operation not permitted")
  monkeypatch.setattr(os, "link", no_link)
  workdir = str(tmp_path)
  path = os.path.join(workdir, workdir_lock.LOCK_FILE)
  lock = workdir_lock.WorkdirLock(workdir).acquire()
  try:
    assert json.load(open(path)) == lock.record
    with pytest.raises(UserError, match="is in use by another trainer"):
      workdir_lock.WorkdirLock(workdir).acquire()
  finally:
    lock.release()
  assert not os.path.exists(path)
  record = {"host": "elsewhere", "pid": 7, "since": "2026-01-01T00:00:00Z", "heartbeat": time.time()}
  open(path, "w").close()

  def writer_finishes(seconds):  # the O_EXCL creator writes its record during the reader's wait
    with open(path, "w") as f:
      json.dump(record, f)
  monkeypatch.setattr(workdir_lock.time, "sleep", writer_finishes)
  assert workdir_lock.WorkdirLock(workdir)._read() == record

# ======== signals during evaluation, sample writing and the end-of-run figures ================================


_SIG_BATCH_SECONDS = 0.5  # the stand-in network's time per batch: an evaluation of 48 batches takes > 20 s


class _SlowNetwork(TinyNetwork):
  """A feature network that takes _SIG_BATCH_SECONDS per batch inside a tf.py_function (so the main thread
  waits in TensorFlow, as with a real I3D) and calls `on_batch()` as each batch starts."""

  def __init__(self, on_batch):
    super().__init__()
    self.on_batch = on_batch

  def features(self, videos, layer):
    out = super().features(videos, layer)

    def slow(x):
      self.on_batch()
      time.sleep(_SIG_BATCH_SECONDS)
      return x
    return tf.reshape(tf.py_function(slow, [out], tf.float32), tf.shape(out))


def _sig_config_file(folder, num_steps=8) -> str:
  """The tiny config with demo_fvd (64 real and 32 fake videos) at every step, in evaluation batches of 2."""
  overrides = f"log_every=1, num_steps={num_steps}, checkpoint_every=8, sample_every=8"
  extra = '  c.eval.every_steps = 1\n  c.eval.protocols = ("demo_fvd",)\n  c.eval.batch_size = 2\n'
  return _config_file(folder, "sig_config.py", overrides, extra)


def _sig_checkpoint_steps(workdir) -> list:
  """The steps of the checkpoints in `workdir/checkpoints`."""
  state = tf.train.get_checkpoint_state(checkpointing.checkpoint_dir(str(workdir)))
  return [] if state is None else [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths]


def test_sigterm_during_periodic_evaluation_saves_within_20_seconds(_ckpt_straight, _ckpt_reuse, tmp_path,
                                                                    monkeypatch, capsys):
  """`dvd-gan-train` (in-process main) resumes the straight run at step 4 for one more step with demo_fvd at
  every step; its feature network takes 0.5 s per batch (48 batches: the whole evaluation alone would take
  > 20 s) and a real SIGTERM reaches the process as the evaluation of step 5 computes its first batch. The
  command exits 0 within 20 s of the signal, saying it stopped at step 5; the checkpoint of step 5 is saved
  (checkpoint_every is 8: only the stop saves it), and the stopped evaluation left nothing: no metrics.jsonl,
  no real statistics file, no best.json. (The command runs in this process on the straight run's trainer:
  the signal handling is the command's own; only the start-up of a new process is left out.)"""
  workdir = _ckpt_copy(_ckpt_straight, tmp_path)
  signalled = []

  def signal_once():
    if not signalled:
      signalled.append(time.time())
      os.kill(os.getpid(), signal.SIGTERM)

  net = _SlowNetwork(signal_once)
  monkeypatch.setattr(eval_api, "get_feature_network", lambda name="i3d-kinetics-400", weights=None: net)
  before = signal.getsignal(signal.SIGTERM)
  capsys.readouterr()
  code = train_cli.main(["dvd-gan-train", f"--config={_sig_config_file(tmp_path, num_steps=5)}",
                         f"--workdir={workdir}"])
  ended = time.time()
  out, err = capsys.readouterr()
  assert signalled, out + err
  seconds = ended - signalled[0]
  print(f"SIGTERM during the periodic evaluation -> the command returned after {seconds:.1f} s")
  assert code == 0, out[-2000:] + err[-3000:]
  assert seconds < 20, (seconds, out)
  assert "stopped by signal 15 at step 5;" in out, out
  assert "received signal 15 during the evaluation of step 5: stopped it" in out, out
  assert _sig_checkpoint_steps(workdir) == [2, 4, 5], out
  assert not os.path.exists(os.path.join(workdir, "metrics.jsonl"))
  assert not os.path.exists(os.path.join(workdir, "best.json"))
  stats = os.path.join(workdir, "real_stats")
  assert not (os.path.exists(stats) and [f for f in os.listdir(stats) if f.endswith(".npz")]), os.listdir(stats)
  assert signal.getsignal(signal.SIGTERM) == before


def test_sigterm_during_end_of_run_figures_stops_them_and_a_rerun_writes_them(_ckpt_straight, _ckpt_reuse, tmp_path,
                                                                              monkeypatch):
  """The straight run (at its last step) with fvd_at_end gets SIGTERM while the end-of-run figures load their
  feature network: train returns stopped_by=15 with no figures, writes no fvd.json, keeps the checkpoint of its
  last step and puts the signal handlers back. The same call again computes the figures and writes fvd.json."""
  workdir = _ckpt_copy(_ckpt_straight, tmp_path)
  net = TinyNetwork()
  calls = []

  def network_then_signal(name="i3d-kinetics-400", weights=None):
    calls.append(name)
    signal.raise_signal(signal.SIGTERM)
    return net

  monkeypatch.setattr(video_eval, "get_feature_network", network_then_signal)
  c = make_tiny_config()
  c.eval.fvd_at_end = True
  c.eval.num_videos, c.eval.batch_size = 8, 4
  before = signal.getsignal(signal.SIGTERM)
  lines = []
  first = train(c, workdir, log=lines.append)
  assert calls == ["i3d-kinetics-400"]
  assert first["stopped_by"] == signal.SIGTERM and first["step"] == 4 and first["eval"] is None, first
  assert any("during the end-of-run figures" in line for line in lines), lines
  assert not os.path.exists(os.path.join(workdir, "fvd.json"))
  assert _sig_checkpoint_steps(workdir) == [2, 4]
  assert signal.getsignal(signal.SIGTERM) == before

  monkeypatch.setattr(video_eval, "get_feature_network", lambda name="i3d-kinetics-400", weights=None: net)
  second = train(c, workdir, log=lambda s: None)
  assert second["stopped_by"] is None and second["step"] == 4
  with open(os.path.join(workdir, "fvd.json")) as f:
    assert json.load(f) == second["eval"]
  assert second["eval"]["step"] == 4


def test_stop_flag_second_sigint_raises_at_once_and_hands_its_signal_out():
  """Within a StopFlag: a first SIGINT or any SIGTERM is only recorded; a SIGINT while a signal is held
  raises KeyboardInterrupt at once. An inner flag starts with its outer flag's signal and hands its own back
  on exit, so a Ctrl-C after the inner flag's exit (during the save) still exits at once."""
  with preemption.StopFlag() as flag:
    signal.raise_signal(signal.SIGTERM)
    signal.raise_signal(signal.SIGTERM)
    assert flag.signal == signal.SIGTERM and flag.requested()
    with pytest.raises(KeyboardInterrupt):
      signal.raise_signal(signal.SIGINT)
  with preemption.StopFlag() as outer:
    with preemption.StopFlag() as inner:
      assert not inner.requested()
      signal.raise_signal(signal.SIGINT)
    assert outer.signal == signal.SIGINT
    with pytest.raises(KeyboardInterrupt):
      signal.raise_signal(signal.SIGINT)


def test_second_sigint_exits_the_training_command_at_once_with_130(tmp_path, monkeypatch, capsys):
  """`dvd-gan-train` (in-process main) gets two SIGINTs while it builds its trainer: the first asks for a stop
  before the first step (start-up would go on), the second ends the command at once with `error:
  interrupted` and status 130, without the "stopped by signal" line of a saved stop."""
  config_path = _sig_config_file(tmp_path)
  timing, build_trainer = {}, loop.build_trainer

  def build_trainer_with_two_sigints(*args, **kwargs):
    signal.raise_signal(signal.SIGINT)
    timing["second"] = time.time()
    signal.raise_signal(signal.SIGINT)
    timing["after"] = time.time()  # not reached: the second SIGINT raises
    return build_trainer(*args, **kwargs)

  monkeypatch.setattr(loop, "build_trainer", build_trainer_with_two_sigints)
  before = signal.getsignal(signal.SIGINT)
  code = train_cli.main(["dvd_gan.train", f"--config={config_path}", f"--workdir={tmp_path / 'run'}"])
  ended = time.time()
  out, err = capsys.readouterr()
  assert code == 130, out + err
  assert "error: interrupted" in err and "stopped by signal" not in out, out + err
  assert "after" not in timing and ended - timing["second"] < 5, timing
  assert signal.getsignal(signal.SIGINT) == before


def _sig_stop_after(n):
  """A `should_stop` that answers False `n` times, then True; `calls` counts the questions."""
  def should_stop():
    should_stop.calls += 1
    return should_stop.calls > n
  should_stop.calls = 0
  return should_stop


def test_real_statistics_stopped_between_batches_leave_no_cache_file(tmp_path):
  """eval.real_stats.load_or_compute of 12 videos in batches of 4, asked to stop before the third batch:
  Interrupted, and no statistics file (not even a temporary one) in the cache folder; without the callback
  the same call writes the file of all 12 videos."""
  net = TinyNetwork()
  videos = random_videos(12, t=6, h=8, w=8, seed=1)
  p = dataclasses.replace(get_protocol("fvd_k400"), name="sig_cache", num_real=12, frames=6)
  kwargs = dict(dataset="toy", split="test", frames=6, stride=1, resolution=8, videos_fn=lambda: videos,
                batch_size=4)
  should_stop = _sig_stop_after(2)
  with pytest.raises(Interrupted):
    real_stats.load_or_compute(str(tmp_path), p, net, should_stop=should_stop, **kwargs)
  assert should_stop.calls == 3 and os.listdir(tmp_path) == []
  stats = real_stats.load_or_compute(str(tmp_path), p, net, **kwargs)
  assert stats.num_items == 12 and os.listdir(tmp_path) == ["toy-test-sig_cache-logits-6f-8px.npz"]


def test_sample_writing_stops_between_files(tmp_path):
  """summaries.write_samples asked to stop after its PNG: Interrupted before the GIF and the mp4 are encoded;
  the PNG is whole and no temporary file is left."""
  videos = random_videos(2, t=4, h=8, w=8).astype("float32") / 127.5 - 1
  with pytest.raises(Interrupted):
    summaries.write_samples(str(tmp_path), "samples_0000002", videos, should_stop=_sig_stop_after(1))
  assert os.listdir(tmp_path) == ["samples_0000002.png"]
  assert Image.open(tmp_path / "samples_0000002.png").size == (2 * (4 * 9 - 1), 2 * (2 * 9 - 1))

# ======== damaged .npz files, serving bounds, the Kinetics builder's workers ==================================


# ---- damaged .npz files --------------------------------------------------------------------------------

def _io_stats(path, n=6, d=5, store_features=False):
  """Writes a statistics file of n random features [n, d] (metadata of I3D logits, 6 frames)."""
  stats = FeatureStats(store_features=store_features,
                       metadata={"network": "i3d-kinetics-400", "layer": "logits", "frames": 6})
  stats.append(np.random.default_rng(0).normal(size=(n, d)))
  stats.save(str(path))
  return str(path)


def _io_videos(path):
  np.savez(path, a=np.zeros([2, 4, 8, 8, 3], np.uint8))
  return str(path)


def _io_weights(path):
  np.savez(path, **{"conv/w": np.ones([3, 3], np.float32), "conv/b": np.zeros([3], np.float32)})
  return str(path)


def _io_truncate(path, keep=0.6):
  data = open(path, "rb").read()
  with open(path, "wb") as f:
    f.write(data[:int(len(data) * keep)])
  return path


def _io_flip_member_bit(path, member):
  """Flips one bit inside the stored (uncompressed) data of `member`: the zip directory stays intact, only
  the member's CRC-32 no longer matches."""
  with zipfile.ZipFile(path) as z:
    info = z.getinfo(member)
  data = bytearray(open(path, "rb").read())
  name_len, extra_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
      int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
  start = info.header_offset + 30 + name_len + extra_len
  data[start + info.compress_size - 1] ^= 0x01  # the last byte: array data, past the .npy header
  with open(path, "wb") as f:
    f.write(bytes(data))
  return path


def _io_readers():
  """{kind: (writer, reader)}: every reader of .npz files the project has."""
  return {
      "stats": (_io_stats, FeatureStats.load),
      "features": (lambda p: _io_stats(p, store_features=True), FeatureStats.load),
      "videos": (_io_videos, lambda p: list(video_io.iter_videos(p))),
      "weights": (_io_weights, weight_files.load_npz),
  }


@pytest.mark.parametrize("kind", ["stats", "features", "videos", "weights"])
def test_truncated_npz_is_one_line_error_naming_the_file(tmp_path, kind):
  """A truncated .npz, read by each of the project's readers, is one EvalError line naming the file
  (not zipfile.BadZipFile); the intact file reads."""
  write, read = _io_readers()[kind]
  path = write(str(tmp_path / f"{kind}.npz"))
  read(path)
  _io_truncate(path)
  with pytest.raises(EvalError) as e:
    read(path)
  message = str(e.value)
  assert path in message and "\n" not in message and "truncated" in message


@pytest.mark.parametrize("kind", ["stats", "features", "videos", "weights"])
def test_bit_flipped_member_is_caught_at_load(tmp_path, kind):
  """One flipped bit in a member's data fails its CRC-32 inside the loader (every member is read there),
  as one EvalError line naming the file and the member, whichever member the caller would use."""
  write, read = _io_readers()[kind]
  path = write(str(tmp_path / f"{kind}.npz"))
  member = {"stats": "sum_outer.npy", "features": "features.npy", "videos": "a.npy", "weights": "conv/b.npy"}[kind]
  _io_flip_member_bit(path, member)
  with pytest.raises(EvalError) as e:
    read(path)
  message = str(e.value)
  assert path in message and member[:-4] in message and "CRC" in message and "\n" not in message


def test_foreign_files_are_one_line_errors(tmp_path):
  """Not a zip, a zip of text, a single .npy under an .npz name, and pickled object arrays: each is one
  EvalError line naming the file; no pickle is loaded."""
  cases = {}
  cases["text"] = tmp_path / "text.npz"
  cases["text"].write_text("hello, not an archive\n" * 10)
  cases["zip_of_text"] = tmp_path / "zip.npz"
  with zipfile.ZipFile(cases["zip_of_text"], "w") as z:
    z.writestr("readme.txt", "no arrays here")
  cases["npy"] = tmp_path / "single.npz"
  with open(cases["npy"], "wb") as f:
    np.save(f, np.zeros(3))
  cases["pickle"] = tmp_path / "pickle.npz"
  cases["pickle"].write_bytes(pickle.dumps({"a": 1}))
  cases["object_array"] = tmp_path / "objects.npz"
  np.savez(cases["object_array"], a=np.array([{"x": 1}, None], dtype=object))
  for name, path in cases.items():
    with pytest.raises(EvalError) as e:
      npz.load(str(path))
    assert str(path) in str(e.value) and "\n" not in str(e.value), name
  with pytest.raises(EvalError, match="not a numpy array"):
    npz.load(str(cases["zip_of_text"]))
  with pytest.raises(EvalError, match="allow_pickle"):
    npz.load(str(cases["object_array"]))


def test_cli_truncated_stats_file_exit_2_one_error_line(tmp_path, capsys):
  """`python -m eval fvd` (eval.cli.main, in-process: the same code path without a second TensorFlow start)
  with a truncated statistics file ends with exit status 2 and one `error:` line naming the file."""
  real = _io_truncate(_io_stats(tmp_path / "real.npz"))
  fake = _io_stats(tmp_path / "fake.npz")
  status = cli.main(["eval", "fvd", f"--real={real}", f"--fake={fake}"])
  err = capsys.readouterr().err
  assert status == 2, err
  assert len(err.splitlines()) == 1 and err.startswith("error: ") and real in err, err


# ---- serving bounds of an export -----------------------------------------------------------------------

_IO_MAX_BATCH, _IO_MAX_LATENTS = export_lib.DEFAULT_MAX_BATCH_SIZE, export_lib.DEFAULT_MAX_LATENTS


@pytest.fixture(scope="module")
def _io_export(tiny_generator_export):
  """tests/generator_export.py's export of a tiny 4-frame 16x16 class-conditional generator with random
  weights, with the default bounds (`python -m dvd_gan.export` without --max_batch_size / --max_latents)."""
  return tiny_generator_export


@pytest.fixture(scope="module")
def _io_signatures(_io_export):
  """The loaded export's signatures, each called once with a valid batch (its first call builds the function,
  seconds of graph optimisation that a refusal must not be charged for); returns (loaded, signatures)."""
  loaded = tf.saved_model.load(_io_export)
  sigs = loaded.signatures
  z, y, seed, t = tf.zeros([2, Z_DIM]), tf.constant([1, 2]), tf.constant(0, tf.int64), tf.constant(1.0)
  outputs = [sigs["sample"](z=z, y=y), sigs["sample_mixed"](z=z, y0=y, y1=y, alpha=tf.zeros([2])),
             sigs["sample_random_labels"](y=y, seed=seed, truncation=t),
             sigs["latents"](batch_size=tf.constant(2), seed=seed, truncation=t, truncation_mode=tf.constant("scale"))]
  for name in ("sample_random", "serving_default"):
    outputs.append(sigs[name](batch_size=tf.constant(_IO_MAX_BATCH), seed=seed, truncation=t))
  assert outputs[-1]["video"].shape[0] == _IO_MAX_BATCH  # the maximum itself is served
  assert all(np.isfinite(v.numpy()).all() for out in outputs for v in out.values() if v.dtype.is_floating)
  return loaded, sigs


def _io_call_refused(fn, match, **inputs):
  """Calls fn(**inputs), expecting InvalidArgumentError matching `match`; returns the seconds it took."""
  start = time.perf_counter()
  with pytest.raises(tf.errors.InvalidArgumentError, match=match):
    fn(**inputs)
  return time.perf_counter() - start


def test_export_refuses_batches_over_its_maximum_before_allocating(_io_export, _io_signatures):
  """The export records max_batch_size / max_latents (constants and export_meta.json); sample_random for 2**30
  videos, latents for 2**30 rows, and sample / sample_random_labels / sample_mixed one row over the maximum are
  refused with InvalidArgumentError naming the bound, each in well under a second (2**30 videos of 4x16x16x3
  floats would be 3 TB: nothing of the batch's size is allocated). The maximum itself is served."""
  with open(os.path.join(_io_export, "export_meta.json")) as f:
    meta = json.load(f)
  assert (meta["max_batch_size"], meta["max_latents"]) == (_IO_MAX_BATCH, _IO_MAX_LATENTS)
  loaded, sigs = _io_signatures
  assert (int(loaded.max_batch_size), int(loaded.max_latents)) == (_IO_MAX_BATCH, _IO_MAX_LATENTS)
  scalars = dict(seed=tf.constant(1, tf.int64), truncation=tf.constant(1.0))
  n = _IO_MAX_BATCH + 1
  z, y = tf.zeros([n, Z_DIM]), tf.zeros([n], tf.int32)
  seconds = [
      _io_call_refused(sigs["sample_random"], "max_batch_size", batch_size=tf.constant(2 ** 30), **scalars),
      _io_call_refused(sigs["serving_default"], "max_batch_size", batch_size=tf.constant(2 ** 30), **scalars),
      _io_call_refused(sigs["latents"], "max_latents", batch_size=tf.constant(2 ** 30),
                       truncation_mode=tf.constant("scale"), **scalars),
      _io_call_refused(sigs["sample"], "max_batch_size", z=z, y=y),
      _io_call_refused(sigs["sample_random_labels"], "max_batch_size", y=y, **scalars),
      _io_call_refused(sigs["sample_mixed"], "max_batch_size", z=z, y0=y, y1=y, alpha=tf.zeros([n])),
  ]
  assert max(seconds) < 0.5, seconds


def test_export_refuses_non_finite_inputs(_io_signatures):
  """A NaN or inf in z (sample, sample_mixed), alpha (sample_mixed) or truncation (sample_random, latents,
  sample_random_labels) is an InvalidArgumentError naming the input, never a NaN video."""
  _, sigs = _io_signatures
  y = tf.constant([1, 2], tf.int32)
  good_z = tf.zeros([2, Z_DIM])
  bad_z = tf.tensor_scatter_nd_update(good_z, [[1, 3]], [float("nan")])
  seed = tf.constant(0, tf.int64)
  _io_call_refused(sigs["sample"], "z must be finite", z=bad_z, y=y)
  _io_call_refused(sigs["sample"], "z must be finite", z=tf.tensor_scatter_nd_update(good_z, [[0, 0]], [float("inf")]),
                   y=y)
  _io_call_refused(sigs["sample_mixed"], "z must be finite", z=bad_z, y0=y, y1=y, alpha=tf.zeros([2]))
  _io_call_refused(sigs["sample_mixed"], "alpha must be finite", z=good_z, y0=y, y1=y,
                   alpha=tf.constant([0.5, float("inf")]))
  for bad in (float("nan"), float("inf")):
    t = tf.constant(bad)
    _io_call_refused(sigs["sample_random"], "truncation must be finite", batch_size=tf.constant(2), seed=seed,
                     truncation=t)
    _io_call_refused(sigs["sample_random_labels"], "truncation must be finite", y=y, seed=seed, truncation=t)
    _io_call_refused(sigs["latents"], "truncation must be finite", batch_size=tf.constant(2), seed=seed,
                     truncation=t, truncation_mode=tf.constant("resample"))


def test_sample_command_batches_requests_to_the_maximum(_io_export, _io_signatures, tmp_path, capsys):
  """`python -m dvd_gan.sample --saved_model` asking for more videos per call than the export serves
  (--batch_size over max_batch_size; 2 classes x (max/2 + 1) videos) runs them in batches of the maximum and
  writes them all, equal to the export's own sample() of the same latents; more latents in one draw than
  max_latents is one `error:` line, exit status 2."""
  out = tmp_path / "out"
  per_class = _IO_MAX_BATCH // 2 + 1
  assert sample_cmd.main(["sample", f"--saved_model={_io_export}", "--classes=1,2", f"--num={per_class}",
                          "--format=npy", "--seed=5", "--truncation=1", f"--batch_size={2 * _IO_MAX_BATCH}",
                          "--noprogress", f"--out={out}"]) == 0
  videos = np.load(out / "videos.npy")
  _, sigs = _io_signatures
  z = sigs["latents"](batch_size=tf.constant(per_class), seed=tf.constant(5, tf.int64), truncation=tf.constant(1.0),
                      truncation_mode=tf.constant("scale"))["z"].numpy()
  zz, y = np.tile(z, [2, 1]), np.repeat(np.array([1, 2], np.int32), per_class)
  expected = np.concatenate([sigs["sample"](z=zz[s], y=y[s])["video"].numpy()
                             for s in (slice(0, _IO_MAX_BATCH), slice(_IO_MAX_BATCH, 2 * per_class))])
  assert videos.shape[0] == 2 * per_class == _IO_MAX_BATCH + 2
  np.testing.assert_array_equal(videos, video_writer.to_uint8(expected))
  capsys.readouterr()
  assert sample_cmd.main(["sample", f"--saved_model={_io_export}", f"--num={_IO_MAX_LATENTS + 1}",
                          "--noprogress", f"--out={tmp_path / 'many'}"]) == 2
  err = capsys.readouterr().err
  assert len(err.splitlines()) == 1 and err.startswith("error: ") and "max_latents" in err, err


# ---- the Kinetics-600 builder: crashing and hanging decoders, bad annotations, no main guard ---------------

_IO_CLIPS = [  # (youtube_id, label): decoded by _IO_FAULTY_DECODER by name prefix
    ("goodgood001", "zumba"), ("crashcrash1", "zumba"), ("goodgood002", "abseiling"),
    ("hanghanghan", "abseiling"), ("goodgood003", "zumba"), ("goodgood004", "abseiling"),
]
_IO_FAULTY_DECODER = '''
import os
import time

from dvd_gan.data import clips


def load_clip(path, size, min_frames, jpeg_quality=90):
  name = os.path.basename(path or "")
  if name.startswith("crash"):
    os._exit(9)  # as a segfault in the decoder: the worker process dies without a word
  if name.startswith("hang"):
    time.sleep(3600)
  return clips.load_clip(path, size, min_frames, jpeg_quality)
'''


def _io_kinetics_manual_dir(root):
  """Tiny mp4 clips (16 frames, 32x32) of _IO_CLIPS, and a train.csv that also has a row with a blank
  time_start."""
  root.mkdir()
  rng = np.random.default_rng(0)
  for i, (yid, _) in enumerate(_IO_CLIPS):
    with av.open(str(root / f"{yid}_000000_000010.mp4"), mode="w") as container:
      stream = container.add_stream("mpeg4", rate=8)
      stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
      base = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
      for t in range(16):
        for packet in stream.encode(av.VideoFrame.from_ndarray(np.roll(base, t + i, axis=1), format="rgb24")):
          container.mux(packet)
      for packet in stream.encode():
        container.mux(packet)
  with open(root / "train.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
    writer.writerows([label, yid, 0, 10, "train"] for yid, label in _IO_CLIPS)
    writer.writerow(["zumba", "blankstart1", "", 10, "train"])
  return str(root)


def test_kinetics_build_survives_crashing_and_hanging_decoders(tmp_path, monkeypatch):
  """With 2 worker processes: a clip whose decoder kills its worker (os._exit, as a segfault) and a clip that
  decodes past clip_timeout_s are each counted as unreadable, an annotation row with a blank time_start is
  counted as bad_annotation, and every other clip is written (the build goes on in new pools)."""
  manual = _io_kinetics_manual_dir(tmp_path / "manual")
  (tmp_path / "mods").mkdir()
  (tmp_path / "mods" / "_io_faulty_decoder.py").write_text(_IO_FAULTY_DECODER)
  monkeypatch.syspath_prepend(str(tmp_path / "mods"))  # spawned workers get the parent's sys.path
  faulty = importlib.import_module("_io_faulty_decoder")
  builder = kinetics600.Kinetics600(config="64", data_dir=str(tmp_path / "tfds"), num_workers=2,
                                    clip_timeout_s=4.0)
  builder._load_clip = faulty.load_clip
  start = time.perf_counter()
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))
  seconds = time.perf_counter() - start
  good = [yid for yid, _ in _IO_CLIPS if yid.startswith("good")]
  assert builder.info.splits["train"].num_examples == len(good)
  assert kinetics600.skip_counts(builder)["train"] == {"missing": 0, "unreadable": 2, "too_short": 0,
                                                      "unknown_label": 0, "bad_annotation": 1}
  reasons = {s["key"]: s["reason"] for s in builder.info.metadata["skipped_clips"]["train"]}
  assert reasons == {"crashcrash1_000000_000010": "unreadable", "hanghanghan_000000_000010": "unreadable",
                     "train.csv:8": "bad_annotation"}
  written = {ex["youtube_id"].decode() for ex in tfds.as_numpy(builder.as_dataset(split="train"))}
  assert written == set(good)
  assert seconds < 600  # the hanging decoder (an hour) was stopped


# A script that starts the decoder pool at its top level, as download_and_prepare does inside (the builder's
# clips go through worker_pool.imap_ordered): light, so that its spawned workers, which re-run it, start in a
# second instead of importing TensorFlow (the builder's feature spec does) before they reach the pool.
_IO_UNGUARDED_SCRIPT = '''
from dvd_gan.data import worker_pool

for n in worker_pool.imap_ordered(abs, [-1, -2], workers=2, timeout_s=60, on_failure=print):
  print("decoded", n)
'''


def test_kinetics_build_without_main_guard_ends_with_one_line(tmp_path, monkeypatch, capfd):
  """A script that starts the decoder workers at its top level (no `if __name__ == "__main__":`), whose
  spawned workers re-run it, ends with one line (the last of stderr) saying what to add; the workers print
  nothing (no bootstrapping tracebacks) and nothing is decoded. The Kinetics builder's download_and_prepare,
  in a process whose main module is that script (so its spawned workers re-run it too), raises the same
  error unchanged (Python prints it as the same last line) and writes no dataset file."""
  script = tmp_path / "build_kinetics.py"
  script.write_text(_IO_UNGUARDED_SCRIPT)
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([_REPO, os.environ.get("PYTHONPATH", "")]),
             TF_CPP_MIN_LOG_LEVEL="3")
  proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env,
                        cwd=str(tmp_path))
  last = proc.stderr.strip().splitlines()[-1]
  assert proc.returncode != 0 and "decoded" not in proc.stdout, proc.stderr
  assert 'if __name__ == "__main__":' in last and "UserError" in last, proc.stderr
  assert "bootstrapping" not in proc.stderr and proc.stderr.count("Traceback") == 1, proc.stderr

  manual = _io_kinetics_manual_dir(tmp_path / "manual")
  main = types.ModuleType("__main__")
  main.__file__ = str(script)  # what multiprocessing's spawn makes every worker re-run
  monkeypatch.setitem(sys.modules, "__main__", main)
  builder = kinetics600.Kinetics600(config="64", data_dir=str(tmp_path / "tfds"), num_workers=2)
  capfd.readouterr()
  with pytest.raises(UserError) as raised:
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))
  workers = capfd.readouterr().err  # the workers' stderr too: file descriptor 2 is inherited
  assert traceback.format_exception_only(raised.value)[-1].strip() == last
  assert "bootstrapping" not in workers and "Traceback" not in workers, workers
  written = [f for _, _, files in os.walk(tmp_path / "tfds") for f in files if ".tfrecord" in f]
  assert written == [], written


def _io_double(x):
  return 2 * x


def test_worker_pool_start_failure_of_ours_is_no_main_guard_advice(monkeypatch):
  """Workers that fail to start for a reason other than an unguarded script (here: the function's module
  cannot be imported in a worker) raise RuntimeError naming the exit codes, with the cause chained: a bug
  keeps its traceback and is not reported as the user's missing `if __name__ == "__main__":`."""
  module = types.ModuleType("_io_module_only_the_parent_has")
  module._io_double = _io_double
  monkeypatch.setitem(sys.modules, module.__name__, module)
  monkeypatch.setattr(_io_double, "__module__", module.__name__)
  with pytest.raises(RuntimeError, match=r"the 2 decoder worker processes did not start \(exit codes ") as raised:
    worker_pool._Pool(2, _io_double)
  assert not isinstance(raised.value, UserError) and raised.value.__cause__ is not None


def _io_no_call(**inputs):
  raise AssertionError("the model must not be called")


def test_predict_batch_size_above_the_model_s_maximum_is_refused_before_any_work(tmp_path):
  """dvd_gan.predict with --batch_size 5 on a model serving at most 4 videos per call: a UserError (one line)
  before any call or output folder, naming the export's flag for an export and the run folder's default
  bound for a run folder (where the user gave no such flag)."""
  meta = {"num_conditioning_frames": 2, "resolution": 16, "max_batch_size": 4}
  exported = predict_lib.LoadedPredictor(_io_no_call, dict(meta))
  run = predict_lib.LoadedPredictor(_io_no_call, dict(meta))
  run.from_workdir = True
  out = str(tmp_path / "out")
  with pytest.raises(UserError, match=r"--batch_size 5 is above the model's maximum of 4 videos per call "
                                      r"\(python -m dvd_gan.export --max_batch_size\)"):
    predict_lib.predict_videos(exported, str(tmp_path), out, batch_size=5, progress=False)
  with pytest.raises(UserError, match=r"maximum of 4 videos per call \(the bound a run folder is served with"):
    predict_lib.predict_videos(run, str(tmp_path), out, batch_size=5, progress=False)
  assert os.listdir(tmp_path) == []


def test_sampling_latents_bound_of_a_run_folder_names_no_export_flag():
  """More latents than a model draws in one call: a UserError naming --max_latents for an export, the run
  folder's default bound for a run folder."""
  model = sampling.LoadedSampler(signatures={}, resolution=16, num_frames=3, num_classes=0, z_dim=8, source="run",
                         max_latents=3)
  with pytest.raises(UserError, match=r"4 latents asked for in one draw; run serves at most 3 \(python -m "
                                      r"dvd_gan.export --max_latents\)"):
    model.latents(4, seed=0)
  model = dataclasses.replace(model, from_workdir=True)
  with pytest.raises(UserError, match=r"serves at most 3 \(the bound a run folder is served with"):
    model.latents(4, seed=0)
