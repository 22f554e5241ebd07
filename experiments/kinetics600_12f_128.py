"""DVD-GAN on Kinetics-600, 12 frames at 128x128 (docs/paper.md, Table 1, third row).

Paper targets (I3D trained on Kinetics-600, 12-frame videos): FID 2.16, IS 55.09 (no truncation),
IS 80.32 (truncated). G ch 64 (above 64x64), G multipliers 16,16,8,4,2,1; D ch 128, multipliers
1,2,4,8,16,16; multiplicative ConvGRU; k = 8.

    python -m dvd_gan.train --config=experiments/kinetics600_12f_128.py --workdir=DIR \
        --config.eval.network_weights.i3d_kinetics_600=PATH_TO_rgb_scratch_kin600/model.ckpt
    python -m dvd_gan.evaluate --workdir=DIR    # protocols k600_fid_is and k600_is_truncated
"""
from dvd_gan.config import base_config
from dvd_gan.models.config import set_paper_widths


def get_config():
  c = base_config()
  c.num_frames = 12
  c.resolution = 128
  c.num_classes = 600
  c.data.name = "kinetics600"
  c.data.stride = 2
  c = set_paper_widths(c)
  c.eval.protocols = ("k600_fid_is",)  # scored every eval.every_steps; FID decides the best checkpoint
  c.eval.every_steps = 5000
  return c
