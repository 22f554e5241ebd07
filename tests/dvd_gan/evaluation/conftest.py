"""Fixtures of the evaluation tests that run the training loop: the training tests' tiny config and runner."""
import pytest

from tests.dvd_gan.training.conftest import make_tiny_config, run_recording_initial


@pytest.fixture(scope="session")
def tiny_config():
  """The factory `make_tiny_config(**train_overrides)` (tests/dvd_gan/training/conftest.py)."""
  return make_tiny_config


@pytest.fixture(scope="session")
def run_loop():
  """The function `run_recording_initial(config, workdir, **train_kwargs)`."""
  return run_recording_initial
