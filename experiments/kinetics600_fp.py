"""DVD-GAN-FP on Kinetics-600: 5 conditioning frames, 11 predicted, 64x64, no frame skipping
(docs/paper.md, DVD-GAN-FP and Table 3).

Paper targets (Table 3, FVD of the 16-frame videos [5 conditioning; 11 predicted], Kinetics-400 I3D logits):
train split 99.32 +- 0.55, test split 103.78 +- 1.17 (Video Transformer: 170 +- 5 on test). The reference
row, class-conditional synthesis of 16 frames without skipping, is experiments/kinetics600_16f_64_stride1.py
(32.34 +- 0.82 / 31.1 +- 0.56). No class input (DVD-GAN-FP drops class conditioning, although Kinetics has
classes). G: the 64x64 multipliers with ch 64, ch0 = 512 (appendix A.4); D ch 128, k = 8 of 16 frames,
phi = 2x2 avg pool; the conditioning network has DS's widths.

    python -m dvd_gan.train --config=experiments/kinetics600_fp.py --workdir=DIR
"""
from dvd_gan.config import base_config
from dvd_gan.models.config import set_paper_widths


def get_config():
  c = base_config()
  c.num_frames = 11                  # predicted frames; DS and DT see 5 + 11 = 16
  c.resolution = 64
  c.num_classes = 0
  c.data.name = "kinetics600"
  c.data.stride = 1                  # prediction experiments use no frame skipping
  c.data.eval_split = "test"
  c.data.num_conditioning_frames = 5
  c.train.conditional = False
  set_paper_widths(c)
  c.model.g_ch = 64                  # ch0 = 64 * 8 = 512 (appendix A.4)
  return c
