"""Tiny config: the embedded synthetic demo and the tests. Trains on 2 CPU cores in minutes."""
from dvd_gan.config import base_config


def get_config():
  c = base_config()
  c.num_frames = 12
  c.resolution = 32
  c.num_classes = 0  # set by the synthetic dataset's class count in dvd_gan.data
  c.batch_size = 16
  m = c.model
  m.g_ch = 8
  m.g_multipliers = (4, 4, 2, 1)     # 4 -> 32
  m.d_ch = 8
  m.ds_multipliers = (1, 2, 4, 4)
  m.dt_multipliers = (1, 2, 4, 4)
  m.ds_k = 4
  c.data.name = "synthetic"
  c.data.stride = 1
  # The embedded demo (`python -m dvd_gan.train`): a short run sized for 2 CPU cores, then FVD figures.
  t = c.train
  t.num_steps = 400
  t.ema_start_step = 100
  t.ema_decay = 0.99
  t.log_every = 25
  t.checkpoint_every = 100
  t.sample_every = 100
  c.eval.fvd_at_end = True
  c.eval.num_videos = 64
  return c
