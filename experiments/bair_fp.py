"""DVD-GAN-FP on BAIR robot pushing: 1 conditioning frame, 15 predicted, 64x64, no frame skipping
(docs/paper.md, DVD-GAN-FP and Table 4).

Paper target (Table 4): FVD competitive with SAVP, behind the Video Transformer (the paper gives no number
in our restatement). No class input: BAIR has none, and DVD-GAN-FP drops class conditioning (G's batch norm
is conditioned on z, D has no projection). G: the 64x64 multipliers with ch 64, so ch0 = 512 = the
conditioning network's 1x1 conv output that initialises the ConvGRU (appendix A.4); D ch 128, k = 8 of the
16 frames DS sees, phi = 2x2 avg pool; the conditioning network has DS's widths.

    python -m dvd_gan.train --config=experiments/bair_fp.py --workdir=DIR
    python -m dvd_gan.predict --workdir=DIR --videos=CLIPS --out=OUT      # predict from your own frames

Evaluation (docs/training.md, "DVD-GAN-FP"): FVD of [conditioning; predicted] against the real clips,
`dvd_gan.evaluation.prediction.prediction_fvd` on the train and the test split.
"""
from dvd_gan.config import base_config
from dvd_gan.models.config import set_paper_widths


def get_config():
  c = base_config()
  c.num_frames = 15                  # predicted frames (G's output); DS and DT see 1 + 15
  c.resolution = 64
  c.num_classes = 0
  c.data.name = "bair_robot_pushing_small"
  c.data.stride = 1
  c.data.num_conditioning_frames = 1
  c.train.conditional = False
  set_paper_widths(c)
  c.model.g_ch = 64                  # ch0 = 64 * 8 = 512 (appendix A.4)
  return c
