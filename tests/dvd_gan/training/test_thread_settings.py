"""train.intra_op_threads / inter_op_threads (dvd_gan.training.strategy.apply_thread_settings): applied in a
fresh process before TensorFlow's runtime starts; in a process whose runtime already runs, nothing changes and
one line says why (no exception); negative values are a one-line error."""
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from dvd_gan.training.strategy import apply_thread_settings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_applied_before_the_runtime_starts():
  code = ("import tensorflow as tf\n"
          "from dvd_gan.training.strategy import apply_thread_settings\n"
          "ok = apply_thread_settings(1, 3, log=print)\n"
          "tf.constant(1.0) + 1.0\n"
          "print('RESULT', ok, tf.config.threading.get_intra_op_parallelism_threads(), "
          "tf.config.threading.get_inter_op_parallelism_threads())\n")
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
  assert out.returncode == 0, out.stderr[-2000:]
  assert "RESULT True 1 3" in out.stdout, out.stdout


def test_started_runtime_keeps_its_pools_and_says_so():
  tf.constant(1.0) + 1.0  # the runtime runs (it does in every test process)
  before = tf.config.threading.get_intra_op_parallelism_threads()
  lines = []
  wanted = before + 1
  assert apply_thread_settings(wanted, 0, log=lines.append) is False
  assert tf.config.threading.get_intra_op_parallelism_threads() == before
  assert len(lines) == 1 and f"train.intra_op_threads={wanted} not applied" in lines[0]
  assert apply_thread_settings(0, 0, log=lines.append) is True and len(lines) == 1  # 0 = keep the default


def test_negative_is_an_error():
  with pytest.raises(ValueError, match="intra_op_threads must be >= 0"):
    apply_thread_settings(-1, 0)
