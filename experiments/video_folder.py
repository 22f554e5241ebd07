"""DVD-GAN on a folder of your own videos (docs/data.md, "Your own videos").

    python -m dvd_gan.train --config=video_folder --config.data.videos=DIR --workdir=runs/mine
    python -m dvd_gan.train --config=video_folder:small --config.data.videos=DIR --workdir=runs/mine_small

`video_folder`: the paper's 12-frame 64x64 model (experiments/kinetics600_12f_64.py's networks and schedule;
batch 512 needs accelerators). `video_folder:small`: the demo's networks and schedule (experiments/demo.py) at
32x32, sized for 2 CPU cores. Both take --config.resolution and --config.num_frames. The classes are the
folder's class folders (--config.data.labels=none: unconditional); the first run prepares the folder into
--config.data.data_dir (default: the TFDS default), later runs and resumes reuse it.
Evaluation against the folder's evaluation split (its held-out videos), real statistics cached in the run
folder: `video_folder` scores `folder_fvd` (FVD of 256 samples) every 5000 steps, as the paper's 12-frame
64x64 config scores its protocol; `video_folder:small` scores `folder_fvd_small` (32 samples) every 1200 steps
and ends with the demo's FVD figures (eval.fvd_at_end: untrained G, EMA G and the training videos, each
against the evaluation split). `python -m dvd_gan.evaluate --workdir=...` scores with `folder_fvd`.
"""
from dvd_gan import experiments
from dvd_gan.config import base_config
from dvd_gan.models.config import set_paper_widths

VARIANTS = ("", "small")


def _data(c, small: bool):
  c.num_classes = 0                  # the folder's class count, set when the run prepares it
  c.data.name = "video_folder"
  c.data.eval_split = "validation"   # the held-out split (or the folder's validation/ or test/ folder)
  c.data.stride = 2
  if small:                          # the demo's schedule: a cheap curve, figures at the end
    c.eval.protocols = ("folder_fvd_small",)
  else:
    c.eval.protocols = ("folder_fvd",)
    c.eval.every_steps = 5000
    c.eval.fvd_at_end = False
  return c


def get_config(variant: str = ""):
  if variant not in VARIANTS:
    raise ValueError(f"unknown variant {variant!r}; expected video_folder or video_folder:small")
  if variant == "small":
    c = experiments.load("demo")
  else:
    c = set_paper_widths(base_config())
    c.num_frames = 12
    c.resolution = 64
  return _data(c, small=variant == "small")
