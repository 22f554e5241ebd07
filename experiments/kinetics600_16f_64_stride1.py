"""DVD-GAN on Kinetics-600, 16 frames at 64x64 without frame skipping: class-conditional synthesis, the
reference row of Table 3 (docs/paper.md, Results).

Paper target (Table 3, FVD, Kinetics-400 I3D logits, 16-frame videos): train split 32.34 +- 0.82, test split
31.1 +- 0.56, i.e. well below DVD-GAN-FP's 99.32 / 103.78 (experiments/kinetics600_fp.py), whose videos must
continue given frames. Paper widths of the 64x64 models (G ch 128, multiplicative ConvGRU, D ch 128, k = 8,
phi = 2x2 avg pool); stride 1 (consecutive frames) as the prediction experiments, instead of synthesis's 2.

    python -m dvd_gan.train --config=experiments/kinetics600_16f_64_stride1.py
"""
from dvd_gan.config import base_config
from dvd_gan.models.config import set_paper_widths


def get_config():
  c = base_config()
  c.num_frames = 16
  c.resolution = 64
  c.num_classes = 600
  c.data.name = "kinetics600"
  c.data.stride = 1
  return set_paper_widths(c)
