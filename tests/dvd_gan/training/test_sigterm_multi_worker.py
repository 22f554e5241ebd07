"""A real SIGTERM to one of two worker processes (MultiWorkerMirroredStrategy on 127.0.0.1): both workers save
the same step and exit 0, and a resume continues from that step (dvd_gan.training.preemption, loop.train)."""
import os
import re
import signal
import time

import pytest
import tensorflow as tf

from dvd_gan.training import checkpointing
from dvd_gan.training.loop import train

_HERE = os.path.dirname(os.path.abspath(__file__))
_NUM_STEPS = 40  # far more than run before the signal: the stop comes from the signal, not the end

_CONFIG = """
import sys
sys.path.insert(0, {here!r})
from conftest import make_tiny_config


def get_config():
  return make_tiny_config(log_every=1, num_steps={num_steps}, checkpoint_every=20, sample_every=20)
"""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigterm_to_one_worker_both_save_the_same_step_exit_0_and_resume(tmp_path, start_workers, tiny_config):
  """Two `python -m dvd_gan.train --strategy=multi_worker` processes; once worker 1 (not the chief) has logged
  step 2, it alone gets SIGTERM. Worker 1 says it received signal 15, the chief that another worker did; both
  save at the same step N (>= 2, before the end) and exit 0. The chief's latest checkpoint is step N, no
  worker's temporary files are left, and train() in the same workdir resumes at step N and runs step N + 1."""
  config_path = tmp_path / "worker_config.py"
  config_path.write_text(_CONFIG.format(here=_HERE, num_steps=_NUM_STEPS))
  workdir = tmp_path / "run"
  procs, seen = start_workers(config_path, workdir), []
  deadline = time.time() + 420
  for line in procs[1].stdout:  # log_every=1: one line per step (flushed); the signal after step 2
    seen.append(line)
    if line.startswith("step 2/"):
      procs[1].send_signal(signal.SIGTERM)
      break
    assert time.time() < deadline, seen
  outputs = []
  for p in procs:
    out, err = p.communicate(timeout=max(deadline - time.time(), 1))
    outputs.append((p.returncode, out, err))
  outputs[1] = (outputs[1][0], "".join(seen) + outputs[1][1], outputs[1][2])
  for code, out, err in outputs:
    assert code == 0, out[-2000:] + err[-3000:]
  chief, other = outputs[0][1], outputs[1][1]
  saved = [re.findall(r"received signal (.+): saving at step (\d+) and exiting", out) for out in (chief, other)]
  assert len(saved[0]) == 1 and saved[0][0][0] == "on another worker", chief
  step = int(saved[0][0][1])
  assert saved[1] == [("15", str(step))], other  # the same step as the chief
  assert 2 <= step < _NUM_STEPS
  assert f"stopped by signal peer at step {step};" in chief and f"stopped by signal 15 at step {step};" in other
  latest = tf.train.latest_checkpoint(checkpointing.checkpoint_dir(str(workdir)))
  assert latest is not None and int(latest.rsplit("-", 1)[1]) == step, latest
  assert not [f for f in os.listdir(workdir) if f.startswith("tmp")], os.listdir(workdir)

  lines = []
  config = tiny_config(log_every=1, num_steps=_NUM_STEPS, checkpoint_every=20, sample_every=20)
  # One process resumes the two workers' run: another strategy (data sharding) must be named to be accepted.
  config.train.allow_config_change = "train.strategy"
  resumed = train(config, str(workdir), log=lines.append, max_steps=1)
  assert any(f"at step {step}" in line and line.startswith("resumed from") for line in lines), lines
  assert resumed["step"] == step + 1 and int(resumed["trainer"].step.numpy()) == step + 1
