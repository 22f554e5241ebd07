"""The base config: every section present, paper defaults where the paper fixes them."""
from dvd_gan.config import base_config


def test_base_config_has_paper_schedule_and_sections():
  """Sections model/data/train/eval exist; Adam and the D:G ratio are the paper's (docs/paper.md, appendix A.3)."""
  c = base_config()
  for section in ("model", "data", "train", "eval"):
    assert section in c, section
  assert c.train.d_steps_per_g_step == 2
  assert (c.train.g_lr, c.train.d_lr) == (1e-4, 5e-4)
  assert (c.train.beta1, c.train.beta2) == (0.0, 0.999)
  assert c.train.ema_decay == 0.9999
  assert c.model.z_dim == 120 and c.model.embed_dim == 120


def test_base_config_is_a_fresh_copy_each_call():
  """Configs are values: mutating one returned config never leaks into the next (no global state)."""
  a = base_config()
  a.model.g_ch = 1
  assert base_config().model.g_ch != 1
