"""Train and eval sections of the config (owned by dvd_gan.training)."""
import ml_collections


def train_config() -> ml_collections.ConfigDict:
  t = ml_collections.ConfigDict()
  t.num_steps = 300_000          # G steps
  t.d_steps_per_g_step = 2
  t.g_lr = 1e-4
  t.d_lr = 5e-4
  t.beta1 = 0.0
  t.beta2 = 0.999
  t.ema_decay = 0.9999
  t.ema_start_step = 20_000
  t.strategy = "default"         # "default" | "mirrored" | "multi_worker" | "tpu"
  t.tpu = ""                     # TPU name or "local"
  t.mixed_precision = "float32"  # "float32" | "bfloat16" | "float16"
  t.xla = False
  return t


def eval_config() -> ml_collections.ConfigDict:
  e = ml_collections.ConfigDict()
  e.num_videos = 256
  return e
