"""The repository's files that are scripts rather than package modules (experiments/, benchmarks/, the launch
scripts, fixture makers), imported by the tests from their paths."""
import importlib.util
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_module(path, name=None):
  """The module of file `path` (relative to the repository root, or absolute), executed afresh each call and
  named `name` (default: the file's stem); not entered in sys.modules."""
  full = path if os.path.isabs(path) else os.path.join(REPO, path)
  spec = importlib.util.spec_from_file_location(name or os.path.splitext(os.path.basename(full))[0], full)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def experiment_config(name, *args, module_name=None):
  """`get_config(*args)` of experiments/<name>.py."""
  return load_module(f"experiments/{name}.py", module_name or f"experiments_{name}").get_config(*args)
