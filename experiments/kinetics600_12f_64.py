"""DVD-GAN on Kinetics-600, 12 frames at 64x64 (docs/paper.md, Table 1, first row).

Paper targets (I3D trained on Kinetics-600, 12-frame videos): FID 0.91, IS 61.10 (no truncation),
IS 129.9 (truncated, sigma = 0.44). G ch 128, multiplicative ConvGRU, D ch 128, k = 8, phi = 2x2 avg pool.

    python -m dvd_gan.train --config=experiments/kinetics600_12f_64.py --workdir=DIR \
        --config.eval.network_weights.i3d_kinetics_600=PATH_TO_rgb_scratch_kin600/model.ckpt
    python -m dvd_gan.evaluate --workdir=DIR    # protocols k600_fid_is and k600_is_truncated
"""
from dvd_gan.config import base_config
from dvd_gan.models.config import set_paper_widths


def get_config():
  c = base_config()
  c.num_frames = 12
  c.resolution = 64
  c.num_classes = 600
  c.data.name = "kinetics600"
  c.data.stride = 2
  c = set_paper_widths(c)
  c.eval.protocols = ("k600_fid_is",)  # scored every eval.every_steps; FID decides the best checkpoint
  c.eval.every_steps = 5000
  return c
