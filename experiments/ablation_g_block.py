"""Appendix C's comparison of G's residual blocks (12 frames, 64x64 Kinetics-600).

    python -m dvd_gan.train --config=experiments/ablation_g_block.py:biggan_deep

arg "biggan" (the paper's G, = experiments/kinetics600_12f_64.py) or "biggan_deep" (BigGAN-deep's
bottleneck blocks; everything else unchanged: two blocks per stage, the whole [z; e(y)] in every block).
The paper reports (docs/paper.md, "Negative results (appendix C)"; no numbers given) that models built on
BigGAN-deep's blocks trained faster in wall-clock time but were worse on the metrics and struggled to reach
the BigGAN-block models.
"""
import importlib.util
import os

SETTINGS = ("biggan", "biggan_deep")


def kinetics600_12f_64():
  """The config of experiments/kinetics600_12f_64.py (this file's neighbour), which the ablation starts from."""
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kinetics600_12f_64.py")
  spec = importlib.util.spec_from_file_location("experiments_kinetics600_12f_64", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def get_config(arg="biggan"):
  if arg not in SETTINGS:
    raise ValueError(f"ablation_g_block: unknown block {arg!r}; choose one of {SETTINGS}")
  c = kinetics600_12f_64()  # the paper's 12-frame 64x64 model, schedule and evaluation
  c.model.g_block = arg
  return c
