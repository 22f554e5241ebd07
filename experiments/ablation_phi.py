"""Figure 7 ablation of DT's input transformation phi (12 frames, 64x64 Kinetics-600, 100k steps).

One setting per run, selected by the config argument:

    python -m dvd_gan.train --config=experiments/ablation_phi.py:avgpool4 --config.seed=1

arg in {avgpool2 (the paper's default), avgpool4, identity, random_crop_half}. The paper runs 3 seeds per
setting and reports (Figure 7, values only shown as a plot): FID is about the same for every phi, while IS
drops as the downsampling grows (identity = the expensive reference with the best IS).
"""
from dvd_gan import experiments

SETTINGS = ("avgpool2", "avgpool4", "identity", "random_crop_half")


def get_config(arg="avgpool2"):
  if arg not in SETTINGS:
    raise ValueError(f"ablation_phi: unknown phi {arg!r}; choose one of {SETTINGS}")
  c = experiments.load("kinetics600_12f_64")
  c.model.dt_phi = arg
  c.train.num_steps = 100_000
  return c
