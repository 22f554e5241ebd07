"""What an install carries (read from setup.py without building anything): console commands that exist, the
experiment configs as a package, and declared dependencies whose floors constraints.txt has tested."""
import importlib
import importlib.util
import os
import re
import runpy

import pytest
import setuptools

from dvd_gan import experiments
from tests.repo_files import load_module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def setup_kwargs():
  """The keyword arguments setup.py passes to setuptools.setup (setup() itself is not run)."""
  captured = {}
  original = setuptools.setup
  setuptools.setup = lambda **kw: captured.update(kw)
  cwd = os.getcwd()
  try:
    os.chdir(ROOT)
    runpy.run_path(os.path.join(ROOT, "setup.py"), run_name="__main__")
  finally:
    setuptools.setup = original
    os.chdir(cwd)
  return captured


def _launch_lib():
  """experiments/launch/launch_lib.py (a folder of scripts, not a package): its constraints-file reader is
  the one the launchers install with."""
  return load_module("experiments/launch/launch_lib.py")


_LAUNCH_LIB = _launch_lib()
_pins, _canonical = _LAUNCH_LIB.constraint_pins, _LAUNCH_LIB.canonical_name


def _version_tuple(v):
  return tuple(int(p) for p in re.findall(r"\d+", v)[:3])


def test_console_commands_exist(setup_kwargs):
  """Every console script names a callable that exists; project commands are named dvd-gan-<verb>[-<object>]."""
  scripts = setup_kwargs["entry_points"]["console_scripts"]
  names = {s.split("=")[0].strip(): s.split("=")[1].strip() for s in scripts}
  assert {"dvd-gan-train", "dvd-gan-export", "video-eval"} <= set(names)
  for name, target in names.items():
    assert name == "video-eval" or re.fullmatch(r"dvd-gan-[a-z]+(-[a-z]+)?", name), name
    module, function = target.split(":")
    assert callable(getattr(importlib.import_module(module), function)), target


def test_experiments_ship_as_a_package(setup_kwargs):
  """experiments/ (kept at the top of the repository) is installed as the package that dvd_gan.experiments
  falls back to outside a source checkout."""
  assert experiments.PACKAGE in setup_kwargs["packages"]
  assert setup_kwargs["package_dir"][experiments.PACKAGE] == "experiments"
  assert os.path.isfile(os.path.join(ROOT, "experiments", "__init__.py"))


def test_declared_dependencies(setup_kwargs):
  """tensorboard and importlib_resources are runtime dependencies; imageio (imported by nothing) is not;
  the test extra has pytest-timeout and scipy (imported only by tests); the data extra what `tfds build`
  imports. Every floor is a version both lanes of the last green CI pin at or above it (constraints.txt: the
  newest lane; constraints-tpu.txt: the TensorFlow Cloud TPUs run)."""
  runtime = setup_kwargs["install_requires"]
  extras = setup_kwargs["extras_require"]
  names = {_canonical(re.split(r"[<>=!~ ;\[]", r)[0]) for r in runtime}
  assert {"tensorflow", "tensorboard", "importlib-resources", "tensorflow-datasets"} <= names
  assert "imageio" not in names and "scipy" not in names
  test_names = {_canonical(re.split(r"[<>=!~ ;\[]", r)[0]) for r in extras["test"]}
  assert {"pytest", "pytest-xdist", "pytest-timeout", "scipy", "apache-beam"} <= test_names
  data_names = {_canonical(re.split(r"[<>=!~ ;\[]", r)[0]) for r in extras["data"]}
  assert {"mlcroissant", "apache-beam"} <= data_names
  for constraints in ("constraints.txt", "constraints-tpu.txt"):
    pins = _pins(constraints)
    for requirement in runtime + extras["test"]:
      match = re.fullmatch(r"([A-Za-z0-9_.\-]+)>=([0-9.]+)", requirement.strip())
      assert match, f"{requirement}: declare a floor (>=) that the suite has passed with"
      name, floor = _canonical(match.group(1)), match.group(2)
      assert name in pins, f"{name} is not pinned in {constraints}"
      assert _version_tuple(pins[name]) >= _version_tuple(floor), (constraints, name, floor, pins[name])


@pytest.mark.parametrize("distribution", ["tensorflow-tpu", "tensorflow[and-cuda]"])
def test_tensorflow_distribution_is_chosen_by_the_environment(distribution, monkeypatch):
  """DVD_GAN_TENSORFLOW names the distribution that provides the tensorflow module (the TPU build on TPU
  VMs, so that pip never installs the CPU build over it), with requirements.txt's floor; without it the
  requirement is plain `tensorflow`; an unknown name is one `error:` line."""
  def requirements():
    captured = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: captured.update(kw))
    monkeypatch.chdir(ROOT)
    runpy.run_path(os.path.join(ROOT, "setup.py"), run_name="__main__")
    return [r for r in captured["install_requires"] if r.startswith("tensorflow") and "datasets" not in r]
  monkeypatch.delenv("DVD_GAN_TENSORFLOW", raising=False)
  default = requirements()
  assert len(default) == 1 and default[0].startswith("tensorflow>=")
  monkeypatch.setenv("DVD_GAN_TENSORFLOW", distribution)
  assert requirements() == [distribution + default[0][len("tensorflow"):]]
  monkeypatch.setenv("DVD_GAN_TENSORFLOW", "tensorflow-gpu")
  with pytest.raises(SystemExit, match="^error: DVD_GAN_TENSORFLOW='tensorflow-gpu' is not one of"):
    requirements()
