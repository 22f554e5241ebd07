"""DVD-GAN on Kinetics-600, 48 frames at 128x128 (docs/paper.md, Table 1, fourth row).

Paper targets (I3D trained on Kinetics-600, 48-frame videos): FID 31.50, IS 111.19 (no truncation),
IS 222.07 (truncated). G ch 64, standard ConvGRU (48 frames), D ch 128, k = 8.

    python -m dvd_gan.train --config=experiments/kinetics600_48f_128.py --workdir=DIR \
        --config.eval.network_weights.i3d_kinetics_600=PATH_TO_rgb_scratch_kin600/model.ckpt
    python -m dvd_gan.evaluate --workdir=DIR    # protocols k600_fid_is and k600_is_truncated
"""
from dvd_gan.config import base_config
from dvd_gan.models.config import set_paper_widths


def get_config():
  c = base_config()
  c.num_frames = 48
  c.resolution = 128
  c.num_classes = 600
  c.data.name = "kinetics600"
  c.data.stride = 2
  c = set_paper_widths(c)
  c.eval.protocols = ("k600_fid_is",)  # scored every eval.every_steps; FID decides the best checkpoint
  c.eval.every_steps = 5000
  return c
