"""Tiny config: DVD-GAN on the embedded synthetic data at 16x16, sized for 2 CPU cores; the README's demo
(`python -m dvd_gan.train`, experiments/demo.py) is this config at 32x32.

The networks are DVD-GAN's (ConvGRU + attention generator, DS on k frames, DT on downsampled clips), only
narrow and at 16x16. The schedule is NOT the paper's: the paper's (lr 1e-4 / 5e-4, 2 D steps per G step,
EMA from step 20,000) needs hundreds of thousands of steps, the demo has a few minutes. What the demo
changes, and why (measured on 2 CPU cores; the runs are in docs/training.md, "Demo figures"):
  * G and D lr 1e-3, Adam beta2 0.99, one D step per G step, batch 8: at the paper's rates the samples were
    still motionless blobs after 600 steps; with these, direction and shape of the class appear by step ~1,000.
  * EMA decay 0.99 from step 200, G's batch-norm moving statistics with decay 0.9 (0.999 lags a short run).
  * One thread per op (`train.intra_op_threads = 1`; the 2 cores run independent ops side by side): the
    step's ~10,600 small ops then take 34-35 ms instead of ~48 ms on 2 cores (docs/performance.md).
  * The end-of-run EMA samples use standing statistics (16 batches of 16; dvd_gan/standing_stats.py):
    on the first BigGAN-block demo run they moved the EMA FVD from 558.3 to 541.8 for a few seconds.
G has the paper's BigGAN residual blocks (model.g_block = "biggan", the default).
Evaluation during training: every 300 steps the `demo_fvd` protocol (FVD of 32 G_ema samples against the
cached statistics of 64 test videos) goes to TensorBoard and runs/demo/metrics.jsonl, so FVD can be watched
falling (`python -m dvd_gan.plot_metrics --workdir=runs/demo --out=fvd.png`). The collapse rule only logs
(action "continue"): a 32-video FVD is too noisy to stop a 1800-step demo on.
"""
from dvd_gan.config import base_config


def get_config():
  c = base_config()
  c.num_frames = 12                  # I3D (the demo's FVD) needs at least 9
  c.resolution = 16
  c.num_classes = 0                  # set by the synthetic dataset's class count (8) in dvd_gan.data
  c.batch_size = 8
  m = c.model
  m.g_ch = 8
  m.g_multipliers = (4, 4, 2)        # 4 -> 16: channels 32, 32, 16
  m.g_bn_momentum = 0.9
  m.d_ch = 8
  m.ds_multipliers = (1, 2, 4)
  m.dt_multipliers = (1, 2, 4)
  m.ds_k = 4
  c.data.name = "synthetic"
  c.data.stride = 1
  t = c.train
  t.num_steps = 1800
  t.intra_op_threads = 1             # many small ops: one thread each, run side by side (docstring)
  t.g_lr = 1e-3
  t.d_lr = 1e-3
  t.beta2 = 0.99
  t.d_steps_per_g_step = 1
  t.ema_start_step = 200
  t.ema_decay = 0.99
  t.log_every = 50
  t.checkpoint_every = 600
  t.sample_every = 600
  c.eval.fvd_at_end = True
  c.eval.num_videos = 64
  c.eval.every_steps = 300
  c.eval.protocols = ("demo_fvd",)
  c.eval.collapse.action = "continue"
  c.eval.standing_stats_batches = 16
  return c
