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
  return c
