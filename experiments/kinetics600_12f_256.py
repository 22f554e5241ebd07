"""DVD-GAN on Kinetics-600, 12 frames at 256x256 (docs/paper.md, Table 1, last row).

Paper targets (I3D trained on Kinetics-600, 12-frame videos): FID 3.35, IS 59.74 (no truncation),
IS 64.05 (truncated). The paper gives no multipliers for 256x256: we use BigGAN's 256x256 lists
(G 16,16,8,8,4,2,1; D 1,2,4,8,8,16,16: one more 8x stage than 128x128). G ch 64, D ch 128, k = 8.

    python -m dvd_gan.train --config=experiments/kinetics600_12f_256.py --workdir=DIR \
        --config.eval.network_weights.i3d_kinetics_600=PATH_TO_rgb_scratch_kin600/model.ckpt
    python -m dvd_gan.evaluate --workdir=DIR    # protocols k600_fid_is and k600_is_truncated
"""
from dvd_gan.config import base_config
from dvd_gan.models.config import set_paper_widths


def get_config():
  c = base_config()
  c.num_frames = 12
  c.resolution = 256
  c.num_classes = 600
  c.data.name = "kinetics600"
  c.data.stride = 2
  c = set_paper_widths(c)
  c.eval.protocols = ("k600_fid_is",)  # scored every eval.every_steps; FID decides the best checkpoint
  c.eval.every_steps = 5000
  return c
