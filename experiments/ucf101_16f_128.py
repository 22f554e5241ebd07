"""DVD-GAN on UCF-101, 16 frames at 128x128, 101 classes (docs/paper.md, Table 2).

Paper target: Inception Score (C3D, as TGAN computes it) 32.97 +- 1.7 (TGANv2: 24.34). G ch 64 (above
64x64), multiplicative ConvGRU, D ch 128, k = 8, phi = 2x2 avg pool. The paper does not state UCF-101's
frame stride; we take consecutive frames (stride 1).

    python -m dvd_gan.train --config=experiments/ucf101_16f_128.py --workdir=DIR \
        --config.eval.network_weights.c3d_ucf101=PATH_TO_TGAN_C3D
    python -m dvd_gan.evaluate --workdir=DIR    # protocol ucf101_is_c3d
"""
from dvd_gan.config import base_config
from dvd_gan.models.config import set_paper_widths


def get_config():
  c = base_config()
  c.num_frames = 16
  c.resolution = 128
  c.num_classes = 101
  c.data.name = "ucf101"
  c.data.stride = 1
  c = set_paper_widths(c)
  c.eval.protocols = ("ucf101_is_c3d",)  # scored every eval.every_steps; IS decides the best checkpoint
  c.eval.every_steps = 5000
  return c
