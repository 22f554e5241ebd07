"""DVD-GAN-FP (future prediction) on a folder of your own videos (docs/data.md, "Your own videos").

    python -m dvd_gan.train --config=video_folder_fp --config.data.videos=DIR --workdir=runs/mine_fp
    python -m dvd_gan.train --config=video_folder_fp:small --config.data.videos=DIR --workdir=runs/mine_fp_small

Given C conditioning frames of a clip, G predicts the next T (no class input: DVD-GAN-FP has none).
`video_folder_fp`: experiments/kinetics600_fp.py's model (5 + 11 frames, 64x64, no frame skipping, paper
widths). `video_folder_fp:small`: experiments/tiny_fp.py's networks and schedule (4 + 8 frames) at 32x32
with the demo's extra G stage (experiments/demo.py) and one more conditioning stage. Both take
--config.num_frames and --config.data.num_conditioning_frames; another --config.resolution also needs the
stages to match it (model.g_multipliers, model.cond_multipliers: the error line says how many). No scoring
during training and no end-of-run figures (`python -m dvd_gan.evaluate --workdir=...` scores with fvd_k400
when the clips are long enough for it).
"""
from dvd_gan import experiments

VARIANTS = ("", "small")


def get_config(variant: str = ""):
  if variant not in VARIANTS:
    raise ValueError(f"unknown variant {variant!r}; expected video_folder_fp or video_folder_fp:small")
  if variant == "small":
    c = experiments.load("tiny_fp")
    c.resolution = 32
    c.model.g_multipliers = (4, 4, 2, 2)   # 4 -> 32, as experiments/demo.py
    c.model.cond_multipliers = (1, 2, 4, 4)  # DS's widths and one more stage: 32 -> the ConvGRU's 4x4
    c.data.synthetic_variant = "synthesis"  # not read: the data are the folder's
  else:
    c = experiments.load("kinetics600_fp")
  c.num_classes = 0
  c.train.conditional = False
  c.data.name = "video_folder"
  c.data.stride = 1
  c.data.eval_split = "validation"   # the held-out split (or the folder's validation/ or test/ folder)
  c.eval.protocols = ()
  c.eval.every_steps = 0
  c.eval.fvd_at_end = False
  return c
