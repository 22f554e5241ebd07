"""Tiny DVD-GAN-FP config: future prediction on the embedded synthetic moving shapes, sized for 2 CPU cores.

    python -m dvd_gan.train --config=experiments/tiny_fp.py --workdir=runs/demo_fp

Given the first C = 4 frames of a clip of the synthetic moving shapes in their "prediction" variant (smaller
shapes moving ~1 pixel per frame; 4 frames are enough to show where the shape goes: DVD-GAN-FP has no class
input), G predicts the next T = 8; DS and DT judge [4 conditioning frames; 8 frames] (12, the fewest the
demo's I3D FVD takes is 9). The networks are DVD-GAN-FP's (conditioning network like DS giving the
ConvGRU's initial state, U-Net skips into G's blocks, ConvGRU + attention G, DS, DT), narrow and at 16x16;
the schedule is the synthesis demo's (experiments/tiny.py: lr 1e-3, Adam beta2 0.99, one D step per G step,
EMA 0.99 from step 200), not the paper's. At the end the run writes <workdir>/prediction.json
(dvd_gan.evaluation.prediction.demo_figures): direction of motion of the predicted frames, FVD and per-frame
MSE for the trained EMA G, the untrained G and the copy-last-frame baseline.

Two choices differ from the synthesis demo (experiments/tiny.py), both found with runs of 1800 steps on 2
CPU cores with BigGAN-deep G blocks (docs/training.md, "The prediction demo"): DT sees the clips at full
resolution (`dt_phi = "identity"`; avgpool2 halves the ~1 pixel per frame motion to half a pixel at 8x8)
and DS all 12 frames (`ds_k = 12`). With the paper's avgpool2 and k = 4 the generator learned to continue
horizontal motion only (direction accuracy 0.53-0.58 at 1800-3000 steps); with these, 0.86 at 1800 steps.
At 16x16 both cost little.
"""
from dvd_gan import experiments


def get_config():
  c = experiments.load("tiny")       # the synthesis demo's widths, 16x16, batch 8 and schedule
  c.num_frames = 8                   # predicted frames
  c.data.num_conditioning_frames = 4
  c.data.synthetic_variant = "prediction"  # smaller shapes, ~1 pixel per frame (data/synthetic.py)
  c.train.conditional = False        # DVD-GAN-FP has no class input
  m = c.model
  m.ds_k = 12                        # DS on all 4 + 8 frames
  m.dt_phi = "identity"              # DT on the full 16x16 (see the docstring)
  m.cond_ch = 0                      # conditioning network = DS's widths: 8, 16, 32 channels, 16 -> 4x4
  m.cond_multipliers = ()
  # No evaluation during training and no standing statistics: the run ends with its prediction figures
  # (prediction.json), measured as below.
  c.eval.every_steps = 0
  c.eval.protocols = ()
  c.eval.standing_stats_batches = 0
  c.eval.collapse.action = "stop"
  return c
