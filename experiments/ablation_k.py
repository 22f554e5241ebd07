"""Figure 7 ablation of the number k of frames DS samples per video (12 frames, 64x64 Kinetics-600, 100k steps).

One setting per run, selected by the config argument:

    python -m dvd_gan.train --config=experiments/ablation_k.py:2 --config.seed=1

arg in {1, 2, 8 (the paper's default), 10}; k = T = 12 (every frame) is the expensive reference and is also
accepted. The paper runs 3 seeds per setting and reports (Figure 7, values only shown as a plot): larger k
improves both FID and IS, with diminishing returns.
"""
import importlib.util
import os


def kinetics600_12f_64():
  """The config of experiments/kinetics600_12f_64.py (this file's neighbour), which the ablations start from."""
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kinetics600_12f_64.py")
  spec = importlib.util.spec_from_file_location("experiments_kinetics600_12f_64", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


SETTINGS = (1, 2, 8, 10, 12)


def get_config(arg="8"):
  try:
    k = int(arg)
  except ValueError:
    raise ValueError(f"ablation_k: k must be an integer, got {arg!r}") from None
  if k not in SETTINGS:
    raise ValueError(f"ablation_k: k={k} is not a Figure 7 setting; choose one of {SETTINGS}")
  c = kinetics600_12f_64()
  c.model.ds_k = k
  c.train.num_steps = 100_000
  return c
