"""eval.onednn: TensorFlow's oneDNN CPU kernels are asked for on x86 unless the user chose, and importing the
packages before TensorFlow really turns them on."""
import os
import subprocess
import sys

import pytest

from eval import onednn

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("machine", ["x86_64", "AMD64"])
def test_sets_the_variable_on_x86_when_unset(monkeypatch, machine):
  monkeypatch.setattr(onednn.platform, "machine", lambda: machine)
  env = {}
  assert onednn.prefer_onednn(env) is True
  assert env == {onednn.ENV: "1"}


@pytest.mark.parametrize("value", ["0", "1"])
def test_a_users_choice_wins(monkeypatch, value):
  monkeypatch.setattr(onednn.platform, "machine", lambda: "x86_64")
  env = {onednn.ENV: value}
  assert onednn.prefer_onednn(env) is False
  assert env == {onednn.ENV: value}


def test_other_architectures_keep_tensorflows_default(monkeypatch):
  monkeypatch.setattr(onednn.platform, "machine", lambda: "aarch64")
  env = {}
  assert onednn.prefer_onednn(env) is False
  assert env == {}


def _enabled_after(code, **env):
  environ = {k: v for k, v in os.environ.items() if k != onednn.ENV}
  environ.update(env, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
  out = subprocess.run([sys.executable, "-c", code + "\nfrom eval.onednn import onednn_enabled\n"
                        "print('ENABLED', onednn_enabled())"], capture_output=True, text=True, env=environ,
                       check=True, timeout=300)
  return [line for line in out.stdout.splitlines() if line.startswith("ENABLED")][-1].split()[1]


@pytest.mark.skipif(onednn.platform.machine().lower() not in ("x86_64", "amd64"), reason="oneDNN default: x86")
def test_importing_dvd_gan_before_tensorflow_turns_onednn_on():
  assert _enabled_after("import dvd_gan\nimport tensorflow") == "True"
  assert _enabled_after("import eval\nimport tensorflow") == "True"
  assert _enabled_after("import dvd_gan\nimport tensorflow", TF_ENABLE_ONEDNN_OPTS="0") == "False"
