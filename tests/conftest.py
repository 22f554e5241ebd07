"""Test-wide setup: two logical CPU devices, so MirroredStrategy runs for real on one CPU.

This must run before TensorFlow initialises its devices, which is why it lives at import time of the root
conftest. The default strategy still places everything on the first device. The tests that need the two
devices take the fixture `two_cpu_devices`: it FAILS (never skips) when they could not be set up.
"""
import inspect
import os
from importlib import metadata

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dvd_gan  # noqa: F401 - before TensorFlow: the tests run the CPU kernels a user's run runs (eval.onednn)
import pytest
import tensorflow as tf

# Session fixtures that test modules of several folders share (a run folder and an export of a tiny generator;
# the straight 4-step training run of the tiny config).
pytest_plugins = ("tests.generator_export", "tests.straight_run")

_cpus = tf.config.list_physical_devices("CPU")
try:
  tf.config.set_logical_device_configuration(
      _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
  _TWO_CPU_ERROR = None
except RuntimeError as e:  # devices already initialised (e.g. by a plugin)
  _TWO_CPU_ERROR = " ".join(str(e).split())


@pytest.fixture(scope="session")
def two_cpu_devices():
  """["/cpu:0", "/cpu:1"]; fails the test when tests/conftest.py could not create the 2 logical devices."""
  found = len(tf.config.list_logical_devices("CPU"))
  if found < 2:
    pytest.fail(f"tests/conftest.py could not set up 2 logical CPU devices (found {found}): "
                f"{_TWO_CPU_ERROR or 'no error was raised'}", pytrace=False)
  return ["/cpu:0", "/cpu:1"]


@pytest.fixture(scope="session")
def mirrored_strategy(two_cpu_devices):
  """`make(**kwargs)`: a new MirroredStrategy on the 2 logical CPUs. Every strategy object numbers its
  collective ops from the same group and instance keys (group 1, instance 100, ...), and the process's collective
  executor remembers them: a second strategy in the same test process whose collective 100 has another shape
  or kind fails with "Shape mismatch in the collective instance 100" and aborts every later collective. So each
  strategy made here starts its group keys 100000 above the previous one, as TensorFlow's own tests do
  (tensorflow/python/distribute/strategy_combinations.py). One training process makes one strategy, so the
  library itself needs no such offset."""
  def make(**kwargs):
    tf.distribute.MirroredStrategy._collective_key_base += 100000
    return tf.distribute.MirroredStrategy(two_cpu_devices, **kwargs)
  return make


# Session / module fixtures that run training or an export (each > 30 s on 2 cores), as (file that defines
# it, name): every test using one is `slow`, so that the fast lane (-m "not slow") never pays for them. Tests
# that are slow on their own carry @pytest.mark.slow themselves.
SLOW_FIXTURES = {
    ("tests/straight_run.py", "default_run"),
    ("tests/dvd_gan/training/conftest.py", "ram_run"),
    ("tests/dvd_gan/training/test_training_equivalence.py", "two_steps"),
    ("tests/dvd_gan/test_export.py", "run_dir"),
    ("tests/generator_export.py", "tiny_generator_run"),
    ("tests/dvd_gan/test_predict.py", "run"),
}
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _defined_in(fixturedef) -> str:
  try:
    return os.path.relpath(inspect.getsourcefile(fixturedef.func), _ROOT).replace(os.sep, "/")
  except (TypeError, ValueError):
    return ""


def pytest_collection_modifyitems(config, items):
  for item in items:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
      continue
    for name in item.fixturenames:  # the closure: fixtures used through other fixtures count too
      defs = info.name2fixturedefs.get(name)
      if defs and (_defined_in(defs[-1]), name) in SLOW_FIXTURES:
        item.add_marker(pytest.mark.slow)
        break


def pytest_report_header(config):
  """The versions the run tests (CI runs two lanes: the newest TensorFlow and the one Cloud TPUs run)."""
  found = []
  for name in ("tensorflow", "tensorflow-tpu", "keras", "tensorboard", "numpy", "protobuf", "ml-dtypes",
               "tensorflow-datasets"):
    try:
      found.append(f"{name} {metadata.version(name)}")
    except metadata.PackageNotFoundError:
      pass
  return "versions: " + ", ".join(found)
