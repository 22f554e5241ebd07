"""Signals during the long parts of a run: periodic evaluation, sample writing, the end-of-run figures.

A SIGTERM / first SIGINT stops them at their next batch (dvd_gan.training.preemption.StopFlag.requested as the
`should_stop` callback of eval.interrupt), the run saves the step it is at and returns `stopped_by` = the
signal, and nothing of the stopped work is written; a second SIGINT raises KeyboardInterrupt at once.
"""
import dataclasses
import json
import os
import resource
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf
from PIL import Image

import eval as video_eval
from eval import real_stats
from eval.interrupt import Interrupted
from eval.protocols import get_protocol
from dvd_gan import train as train_command
from dvd_gan.training import checkpointing, loop, preemption, summaries
from dvd_gan.training.loop import train
from tests.dvd_gan.training.conftest import make_tiny_config
from tests.eval.conftest import TinyNetwork, random_videos

_SIG_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SIG_BATCH_SECONDS = 2.0  # the stand-in network's time per batch: an evaluation of 12 batches takes > 20 s

# A training command whose feature network is a stand-in that takes _SIG_BATCH_SECONDS per batch (a
# tf.py_function inside the forward: the main thread waits in TensorFlow as with a real I3D) and prints
# "features batch" when a batch starts, so the test knows the evaluation is running.
_SIG_SCRIPT = """
import sys, time
import tensorflow as tf
from eval import api
from dvd_gan import train
from tests.eval.conftest import TinyNetwork


class SlowNetwork(TinyNetwork):
  def features(self, videos, layer):
    out = super().features(videos, layer)
    def slow(x):
      print("features batch", flush=True)
      time.sleep({seconds})
      return x
    return tf.reshape(tf.py_function(slow, [out], tf.float32), tf.shape(out))


net = SlowNetwork()
api.get_feature_network = lambda name, weights=None: net
sys.exit(train.main(["dvd_gan.train", "--config={config}", "--workdir={workdir}"]))
"""

_SIG_CONFIG = """
from tests.dvd_gan.training.conftest import make_tiny_config


def get_config():
  c = make_tiny_config(log_every=1, num_steps=8, checkpoint_every=8, sample_every=8)
  c.eval.every_steps = 1
  c.eval.protocols = ("demo_fvd",)
  return c
"""


def _sig_checkpoint_steps(workdir) -> list:
  """The steps of the checkpoints in `workdir/checkpoints`."""
  state = tf.train.get_checkpoint_state(checkpointing.checkpoint_dir(str(workdir)))
  return [] if state is None else [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths]


@pytest.mark.slow
@pytest.mark.timeout(900)  # the start-up and first step alone took 412 s on the 2-core machine at load 9
def test_sigterm_during_periodic_evaluation_saves_within_20_seconds(tmp_path):
  """`python -m dvd_gan.train` (tiny config, demo_fvd at every step, 12 feature batches of 2 s each): SIGTERM
  once the evaluation of step 1 computes features. The process exits 0 within 20 s of the signal (the whole
  evaluation alone would take > 24 s), saying it stopped at step 1; the checkpoint of step 1 exists (the
  only one: checkpoint_every is 8), and the stopped evaluation left nothing: no metrics.jsonl line, no real
  statistics file, no best.json."""
  (tmp_path / "config.py").write_text(_SIG_CONFIG)
  workdir = tmp_path / "run"
  script = tmp_path / "run_slow_eval.py"
  script.write_text(_SIG_SCRIPT.format(seconds=_SIG_BATCH_SECONDS, config=tmp_path / "config.py",
                                       workdir=workdir))
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
             PYTHONPATH=_SIG_REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
  proc = subprocess.Popen([sys.executable, str(script)], cwd=_SIG_REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  seen = []
  try:
    deadline = time.time() + 720
    for line in proc.stdout:
      seen.append(line)
      if line.startswith("features batch"):
        proc.send_signal(signal.SIGTERM)
        signalled = time.time()
        break
      assert time.time() < deadline, "".join(seen)
    else:
      pytest.fail("the run ended before its evaluation:\n" + "".join(seen) + proc.stderr.read()[-3000:])
    out, err = proc.communicate(timeout=120)
    seconds = time.time() - signalled
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  out = "".join(seen) + out
  print(f"SIGTERM during the periodic evaluation -> exit after {seconds:.1f} s; the run took "
        f"{cpu.ru_utime + cpu.ru_stime:.0f} CPU s")
  assert proc.returncode == 0, out[-2000:] + err[-3000:]
  assert seconds < 20, (seconds, out)
  assert "stopped by signal 15 at step 1;" in out, out
  assert "received signal 15 during the evaluation of step 1: stopped it" in out, out
  assert _sig_checkpoint_steps(workdir) == [1], out
  assert not os.path.exists(workdir / "metrics.jsonl"), (workdir / "metrics.jsonl").read_text()
  assert not os.path.exists(workdir / "best.json")
  stats = workdir / "real_stats"
  assert not (stats.exists() and [f for f in os.listdir(stats) if f.endswith(".npz")]), os.listdir(stats)


@pytest.mark.slow
def test_sigterm_during_end_of_run_figures_stops_them_and_a_rerun_writes_them(tmp_path, monkeypatch):
  """A run with fvd_at_end gets SIGTERM while the end-of-run figures load their feature network: train
  returns stopped_by=15 with no figures, writes no fvd.json, the checkpoint of its last step is saved and the
  signal handlers are put back. The same call again (the run is at num_steps) computes the figures and writes
  fvd.json. (num_steps = 0: the run is at its end from the start, the figures are those of the initial G_ema,
  and no training step has to be compiled: the end-of-run path is the same as after any number of steps.)"""
  net = TinyNetwork()
  calls = []

  def network_then_signal(name="i3d-kinetics-400", weights=None):
    calls.append(name)
    signal.raise_signal(signal.SIGTERM)
    return net

  monkeypatch.setattr(video_eval, "get_feature_network", network_then_signal)
  c = make_tiny_config(num_steps=0)
  c.eval.fvd_at_end = True
  c.eval.num_videos, c.eval.batch_size = 8, 4
  before = signal.getsignal(signal.SIGTERM)
  lines = []
  first = train(c, str(tmp_path), log=lines.append)
  assert calls == ["i3d-kinetics-400"]
  assert first["stopped_by"] == signal.SIGTERM and first["step"] == 0 and first["eval"] is None, first
  assert any("during the end-of-run figures" in line for line in lines), lines
  assert not os.path.exists(tmp_path / "fvd.json")
  assert _sig_checkpoint_steps(tmp_path) == [0]
  assert signal.getsignal(signal.SIGTERM) == before

  monkeypatch.setattr(video_eval, "get_feature_network", lambda name="i3d-kinetics-400", weights=None: net)
  second = train(c, str(tmp_path), log=lambda s: None)
  assert second["stopped_by"] is None and second["step"] == 0
  with open(tmp_path / "fvd.json") as f:
    assert json.load(f) == second["eval"]
  assert second["eval"]["step"] == 0


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
  (tmp_path / "config.py").write_text(_SIG_CONFIG)
  timing, build_trainer = {}, loop.build_trainer

  def build_trainer_with_two_sigints(*args, **kwargs):
    signal.raise_signal(signal.SIGINT)
    timing["second"] = time.time()
    signal.raise_signal(signal.SIGINT)
    timing["after"] = time.time()  # not reached: the second SIGINT raises
    return build_trainer(*args, **kwargs)

  monkeypatch.setattr(loop, "build_trainer", build_trainer_with_two_sigints)
  before = signal.getsignal(signal.SIGINT)
  code = train_command.main(["dvd_gan.train", f"--config={tmp_path / 'config.py'}",
                             f"--workdir={tmp_path / 'run'}"])
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
