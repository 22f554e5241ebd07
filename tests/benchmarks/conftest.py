"""Fixtures of the benchmark scripts' tests."""
import pytest

from tests.repo_files import load_module


@pytest.fixture(scope="session")
def benchmark_script():
  """`load(name)`: the module of benchmarks/<name>.py, imported from its file (the scripts are not a package)."""
  return lambda name: load_module(f"benchmarks/{name}.py")
