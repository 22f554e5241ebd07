"""Appendix C's comparison of G's residual blocks (12 frames, 64x64 Kinetics-600).

    python -m dvd_gan.train --config=experiments/ablation_g_block.py:biggan_deep

arg "biggan" (the paper's G, = experiments/kinetics600_12f_64.py) or "biggan_deep" (BigGAN-deep's
bottleneck blocks; everything else unchanged: two blocks per stage, the whole [z; e(y)] in every block).
The paper reports (docs/paper.md, "Negative results (appendix C)"; no numbers given) that models built on
BigGAN-deep's blocks trained faster in wall-clock time but were worse on the metrics and struggled to reach
the BigGAN-block models.
"""
from dvd_gan import experiments

SETTINGS = ("biggan", "biggan_deep")


def get_config(arg="biggan"):
  if arg not in SETTINGS:
    raise ValueError(f"ablation_g_block: unknown block {arg!r}; choose one of {SETTINGS}")
  c = experiments.load("kinetics600_12f_64")  # the paper's 12-frame 64x64 model, schedule and evaluation
  c.model.g_block = arg
  return c
