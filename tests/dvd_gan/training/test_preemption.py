"""The stop decision of several workers (MultiWorkerMirroredStrategy) is agreed on: when one worker gets
SIGTERM, every worker stops at the same call boundary (dvd_gan.training.preemption.make_stop_sync)."""
import json
import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

from dvd_gan.training import preemption

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

_WORKER = textwrap.dedent("""
  import json, os, sys
  os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
  import tensorflow as tf
  from dvd_gan.training import preemption
  strategy = tf.distribute.MultiWorkerMirroredStrategy()
  index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
  sync = preemption.make_stop_sync(strategy)
  # Round 1: only worker 1 got a signal. Round 2: nobody.
  print(json.dumps({"is_local_flag": sync is bool, "round1": sync(index == 1), "round2": sync(False)}), flush=True)
""")


def test_one_process_uses_its_own_flag():
  """Default and mirrored strategies are one process: the local flag is the decision (no collective)."""
  assert preemption.make_stop_sync(tf.distribute.get_strategy()) is bool


@pytest.mark.slow
def test_a_signal_on_one_worker_stops_every_worker(tmp_path, free_ports):
  """Two worker processes (MultiWorkerMirroredStrategy on 127.0.0.1): when only worker 1 has the flag, both
  get True; when neither has it, both get False."""
  ports = free_ports(2)
  cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
  script = tmp_path / "worker.py"
  script.write_text(_WORKER)
  procs = []
  try:
    for i in range(2):
      env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
                 PYTHONPATH=_REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
      procs.append(subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True))
    results = [p.communicate(timeout=300) for p in procs]
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
        p.wait()
  for p, (out, err) in zip(procs, results):
    assert p.returncode == 0, err[-3000:]
    assert json.loads(out.strip().splitlines()[-1]) == {"is_local_flag": False, "round1": True, "round2": False}
