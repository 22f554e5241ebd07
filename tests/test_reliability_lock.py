"""Fault injection: one trainer per workdir (dvd_gan.training.workdir_lock), what a resume may change
(dvd_gan.training.config_changes) and retried writes of samples, TensorBoard events and metrics lines.

The runs resumed here start from a run folder made without training (`_lock_base_run`: the tiny model's full
state saved as the checkpoint of step 4 = train.num_steps, its config.json and a metrics.jsonl), so a resume
builds, restores and finishes without a training step.
"""
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import train as train_cli
from dvd_gan.config import base_config, resolve_config
from dvd_gan.errors import UserError
from dvd_gan.evaluation import periodic
from dvd_gan.training import checkpointing, config_changes, summaries, workdir_lock
from dvd_gan.training.loop import train
from dvd_gan.training.trainer import build_trainer
from eval import io as eio

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TRAINING_CONFTEST = os.path.join(_REPO, "tests", "dvd_gan", "training", "conftest.py")


def _lock_training_fixtures():
  """tests/dvd_gan/training/conftest.py as a module (its `make_tiny_config`); loaded by path because the
  name `conftest` belongs to tests/conftest.py in this process."""
  spec = importlib.util.spec_from_file_location("_lock_training_conftest", _TRAINING_CONFTEST)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


_lock_make_config = _lock_training_fixtures().make_tiny_config

_LOCK_CONFIG_FILE = """
import importlib.util

_spec = importlib.util.spec_from_file_location("_lock_training_conftest", {conftest!r})
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)


def get_config():
  return _module.make_tiny_config()
"""


def _lock_config_file(folder) -> str:
  path = os.path.join(str(folder), "lock_config.py")
  with open(path, "w") as f:
    f.write(_LOCK_CONFIG_FILE.format(conftest=_TRAINING_CONFTEST))
  return path


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
def _lock_base_run(tmp_path_factory):
  """{"folder": a run folder at its end: the tiny model's full state saved as ckpt-4 (train.num_steps = 4),
  config.json (the resolved tiny config) and a metrics.jsonl line, made without training a step; "models":
  its (G, DS, DT), which a resume may take instead of building its own (the checkpoint restores them)}."""
  folder = str(tmp_path_factory.mktemp("lock_base_run"))
  config = resolve_config(_lock_make_config())
  trainer = build_trainer(config, tf.distribute.get_strategy())
  trainer.step.assign(4)
  checkpointing.make_manager(checkpointing.make_checkpoint(trainer), folder, 3).save(checkpoint_number=4)
  eio.write_json(eio.join(folder, "config.json"), config.to_dict())
  periodic.append_record(folder, {"step": 2, "demo_fvd/fvd": 1.0, "seconds": 0.1})
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


def test_lock_live_holder_stops_a_second_trainer_then_its_dead_lock_is_taken_over(tmp_path):
  """A live process holds the workdir's lock: `python -m dvd_gan.train` on that workdir exits with status 2
  within 90 s, its stderr ONE line `error: ...` naming the holder's host, pid and start time, and it writes
  nothing there. Once the holder is killed (SIGKILL: no release), the next trainer on this host takes the
  lock over at once with one warning line saying its process has ended."""
  workdir = str(tmp_path / "run")
  holder = subprocess.Popen([sys.executable, "-c", _LOCK_HOLDER, workdir], cwd=_REPO, env=_lock_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "held", holder.stderr.read()
    record = json.load(open(os.path.join(workdir, workdir_lock.LOCK_FILE)))
    before = _lock_files(workdir)
    t0 = time.time()
    second = subprocess.run([sys.executable, "-m", "dvd_gan.train", f"--config={_lock_config_file(tmp_path)}",
                             f"--workdir={workdir}"], cwd=str(tmp_path), env=_lock_env(), capture_output=True,
                            text=True, timeout=300)
    seconds = time.time() - t0
    lines = [l for l in second.stderr.splitlines() if l.startswith("error: ") or "Traceback" in l]
    assert second.returncode == 2, second.stderr[-3000:]
    assert seconds < 90, seconds
    assert len(lines) == 1, second.stderr[-3000:]
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
    train(_lock_make_config(), workdir, build_models=build_and_fail, log=lambda s: None)
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
    config_changes.check_resume(resolve_config(_lock_make_config()), _lock_run, log=lambda s: None)


def test_lock_allowed_and_schedule_changes_resume_keep_history_and_skip_failing_samples(_lock_run, _lock_base_run,
                                                                                       monkeypatch):
  """Resuming with batch_size 4 -> 8 listed in train.allow_config_change and schedule-only changes
  (train.sample_every 2 -> 3, train.log_every 2 -> 1): the run resumes (restored at step 4, its end) and one
  line lists the schedule changes and the allowed one; config.json holds the new config and the earlier file
  is kept byte-identical as config.1.json. The run's end then samples (step 4 is no multiple of 3) while
  every write of a sample file fails: one warning line, no sample file, and the run finishes normally."""
  earlier = _lock_files(_lock_run)["config.json"]
  failed = _lock_flaky_rename(monkeypatch, "samples_", None)
  config = _lock_make_config(allow_config_change="batch_size", sample_every=3, log_every=1)
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
