"""The README's demo (`python -m dvd_gan.train`): experiments/tiny.py at 32x32, on the embedded synthetic data.

Everything is tiny.py's (networks, widths of D, batch 8, the 1800-step schedule, one thread per op, evaluation
during training, FVD and class cues at the end) except the size: 32x32 frames, with one more upsampling stage
in G (channels 32, 32, 16, 16). tiny.py stays the 16x16 reference that the performance figures and the
prediction demo (tiny_fp.py) are measured with.

Why 32x32: the step got faster (README, "Performance"), and with the time won the demo grows. Measured on the
idle 2-core machine, same code, one run each (training is unseeded): 32x32 trains at 11 steps/s (16x16: 22) and
the whole run takes about 5 minutes instead of about 3.5; its samples keep the shapes' edges and colours, which
16x16 blurs (README, "The demo's figures", has both sample grids, FVDs and class-cue accuracies).
"""
from dvd_gan import experiments


def get_config():
  c = experiments.load("tiny")
  c.resolution = 32
  c.model.g_multipliers = (4, 4, 2, 2)   # 4 -> 32: channels 32, 32, 16, 16
  return c
