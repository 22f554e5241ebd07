"""Figure 7 ablation of the number k of frames DS samples per video (12 frames, 64x64 Kinetics-600, 100k steps).

One setting per run, selected by the config argument:

    python -m dvd_gan.train --config=experiments/ablation_k.py:2 --config.seed=1

arg in {1, 2, 8 (the paper's default), 10}; k = T = 12 (every frame) is the expensive reference and is also
accepted. The paper runs 3 seeds per setting and reports (Figure 7, values only shown as a plot): larger k
improves both FID and IS, with diminishing returns.
"""
from dvd_gan import experiments

SETTINGS = (1, 2, 8, 10, 12)


def get_config(arg="8"):
  try:
    k = int(arg)
  except ValueError:
    raise ValueError(f"ablation_k: k must be an integer, got {arg!r}") from None
  if k not in SETTINGS:
    raise ValueError(f"ablation_k: k={k} is not a Figure 7 setting; choose one of {SETTINGS}")
  c = experiments.load("kinetics600_12f_64")
  c.model.ds_k = k
  c.train.num_steps = 100_000
  return c
