"""Experiment configs by name: `--config=kinetics600_12f_64` is `experiments/kinetics600_12f_64.py`.

The experiment files live in `experiments/` at the top of the repository. An install carries them too:
setup.py ships that folder as the package `dvd_gan_experiments` (`package_dir`), so a wheel or a
`pip install` from a clone finds them from any working directory. Lookup order of `experiments_dir()`:
  1. the `experiments/` folder next to the `dvd_gan` package being run, when it is a source checkout (a
     clone, an editable install, or PYTHONPATH pointing at a work tree);
  2. the installed package `dvd_gan_experiments`.

A config spec is `NAME[:ARG]` or `PATH[:ARG]` (ARG is passed to `get_config(ARG)`, e.g. `ablation_k:2`):
  * an existing file is used as it is (a path always works);
  * a bare name (no `/`, with or without `.py`) is one of `names()`;
  * anything else is a path that does not exist: an error saying so.

`DEFINE_config(fv, argv)` defines the ml_collections config flag (`--config=SPEC --config.key=value`) with
these rules and one-line errors (a missing file, an unknown name, a failing `get_config`, an override of a
field the config lacks) that `eval.command` turns into `error: ...` and exit 2.
"""
import importlib.util
import os
from typing import Optional, Sequence

import ml_collections
from absl import flags

from eval.command import UsageError, first_line, one_line
from dvd_gan.errors import UserError
from ml_collections import config_flags
from ml_collections.config_flags import config_path

PACKAGE = "dvd_gan_experiments"


def _checkout_dir() -> Optional[str]:
  """`experiments/` beside the running `dvd_gan` package when that is a source checkout (setup.py there)."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  folder = os.path.join(root, "experiments")
  if os.path.isfile(os.path.join(folder, "tiny.py")) and os.path.isfile(os.path.join(root, "setup.py")):
    return folder
  return None


def experiments_dir() -> str:
  """The folder holding the experiment files (module docstring: source checkout, else the install)."""
  folder = _checkout_dir()
  if folder is not None:
    return folder
  spec = importlib.util.find_spec(PACKAGE)
  if spec is None or not spec.submodule_search_locations:
    raise UserError(f"the experiment files are not installed (no source checkout and no package "
                    f"{PACKAGE}): reinstall dvd-gan, or pass --config=PATH/TO/FILE.py")
  return list(spec.submodule_search_locations)[0]


def names() -> list:
  """Bare names of the experiment files, sorted (e.g. ["ablation_k", ..., "tiny", "ucf101_16f_128"])."""
  folder = experiments_dir()
  return sorted(f[:-3] for f in os.listdir(folder) if f.endswith(".py") and not f.startswith("_"))


def _split(spec: str):
  """"path:arg" -> ("path", ":arg"); "path" -> ("path", "") (the first colon, like ml_collections)."""
  path, colon, arg = spec.partition(":")
  return path, colon + arg


def resolve(spec: str) -> str:
  """`NAME[:ARG]` or `PATH[:ARG]` -> `PATH[:ARG]` of an existing file (UserError otherwise)."""
  if not spec:
    raise UserError("empty config spec: give an experiment name or a .py file")
  path, arg = _split(spec)
  if os.path.isfile(path):
    return spec
  if "/" not in path and os.sep not in path:
    name = path[:-3] if path.endswith(".py") else path
    candidate = os.path.join(experiments_dir(), name + ".py")
    if name and not name.startswith("_") and os.path.isfile(candidate):
      return candidate + arg
    raise UserError(f"no experiment named {name!r} and no such file; experiments: {', '.join(names())}")
  raise UserError(f"no such file: {path}")


def _load_module(path: str):
  module_name = "experiment_" + os.path.splitext(os.path.basename(path))[0]
  spec = importlib.util.spec_from_file_location(module_name, path)
  if spec is None or spec.loader is None:
    raise UserError(f"cannot load {path}: not a Python file")
  module = importlib.util.module_from_spec(spec)
  try:
    spec.loader.exec_module(module)
  except Exception as e:
    raise UserError(f"cannot load {path}: {type(e).__name__}: {first_line(e)}") from None
  if not callable(getattr(module, "get_config", None)):
    raise UserError(f"{path} has no get_config()")
  return module


def load(spec: str) -> ml_collections.ConfigDict:
  """`get_config([ARG])` of the experiment `spec` (module docstring), unlocked."""
  path, arg = _split(resolve(spec))
  module = _load_module(path)
  try:
    config = module.get_config(arg[1:]) if arg else module.get_config()
  except Exception as e:
    raise UserError(f"{spec}: get_config failed: {type(e).__name__}: {first_line(e)}") from None
  if config is None:
    raise UserError(f"{path}: get_config() returned None")
  return config


class _Parser(flags.ArgumentParser):
  """The config flag's parser: a spec -> the locked ConfigDict (UserError on failure; DEFINE_config has
  already loaded the spec of the command line and reported a bad one as `--config: <message>`)."""

  def __init__(self, lock_config: bool = True):
    self._lock_config = lock_config

  def parse(self, argument):
    if not isinstance(argument, str):  # a ConfigDict given programmatically
      return argument
    config = load(argument)
    if self._lock_config and hasattr(config, "lock"):
      config.lock()
    return config

  def flag_type(self):
    return "config object"


def _config_spec(argv: Sequence[str], name: str) -> Optional[str]:
  """The last `--name=SPEC` / `--name SPEC` of argv (None when absent)."""
  spec = None
  for i, arg in enumerate(argv):
    for prefix in (f"--{name}=", f"-{name}="):
      if arg.startswith(prefix):
        spec = arg[len(prefix):]
    if arg in (f"--{name}", f"-{name}") and i + 1 < len(argv):
      spec = argv[i + 1]
  return spec


def _check_overrides(config, argv: Sequence[str], name: str) -> None:
  """UsageError naming the first `--name.a.b=value` override whose field the config does not have
  (ml_collections would raise a bare AttributeError for it while parsing)."""
  for arg in argv:
    for prefix in (f"--{name}.", f"-{name}.", f"--no{name}.", f"-no{name}."):
      if arg.startswith(prefix):
        field = arg[len(prefix):].split("=", 1)[0]
        try:
          config_path.get_value(field, config)
        except (AttributeError, KeyError, IndexError, ValueError, TypeError):
          raise UsageError(f"--{name} override names a field the config does not have: {field}") from None


def DEFINE_config(fv: flags.FlagValues, argv: Sequence[str], *, name: str = "config",
                  default: Optional[str] = None,
                  help_string: str = "Experiment: a name (see dvd_gan.experiments.names()) or a .py file, "
                                     "with an optional :ARG for get_config; --config.key=value overrides fields.",
                  lock_config: bool = True) -> flags.FlagHolder:
  """Defines the ml_collections config flag `--name` on `fv` with names resolved (module docstring).

  Args:
    fv: the command's FlagValues.
    argv: the command line being parsed (ml_collections reads the `--name.key=value` overrides from it).
    name: flag name.
    default: spec used when the flag is not given (None: no config).
    help_string: flag help.
    lock_config: lock the ConfigDict (an override of a missing field is an error).
  Raises:
    UsageError: bad spec or override (raised here, while the flags are defined).
  """
  holder = config_flags.DEFINE_config_file(name, default=None, help_string=help_string, flag_values=fv,
                                           lock_config=lock_config, sys_argv=list(argv))
  fv[name].parser = _Parser(lock_config)
  spec = _config_spec(argv, name)
  try:
    if spec is not None:
      _check_overrides(load(spec), argv, name)
    elif default is not None:
      _check_overrides(load(default), argv, name)
      fv.set_default(name, default)  # parses the default with the overrides of argv
  except UserError as e:
    raise UsageError(f"--{name}: {e}") from None
  except flags.Error as e:
    raise UsageError(one_line(e)) from None
  return holder
