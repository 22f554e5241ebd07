"""Mixed precision and XLA of the training step on CPU (one real step each, tiny config)."""
import math

import keras
import pytest
import tensorflow as tf

from dvd_gan import data as data_lib
from dvd_gan.training import precision
from dvd_gan.training.loop import resolve_config
from dvd_gan.training.trainer import build_trainer


def _one_step(config):
  config = resolve_config(config)
  trainer = build_trainer(config, tf.distribute.get_strategy())
  metrics = trainer.train_step(iter(data_lib.make_dataset(config, split="train", training=True)))
  return trainer, {k: float(v) for k, v in metrics.items()}


@pytest.mark.slow
def test_bfloat16_step(tiny_config):
  """mixed_precision="bfloat16": a training step runs on CPU with finite losses; layers compute in bfloat16
  while every variable of G, DS, DT (and the optimiser updates) stays float32."""
  trainer, metrics = _one_step(tiny_config(mixed_precision="bfloat16", deterministic=False))
  assert all(math.isfinite(v) for v in metrics.values()), metrics
  assert trainer.G.compute_dtype == "bfloat16" and trainer.DS.compute_dtype == "bfloat16"
  for m in (trainer.G, trainer.DS, trainer.DT, trainer.G_ema):
    for v in m.weights:
      if v.dtype != "int64" and "seed" not in v.name:
        assert v.dtype == "float32", v.name
  assert int(trainer.d_opt.iterations.numpy()) == 2
  # The policy was only in force while building: later layers are float32 again.
  assert keras.config.dtype_policy().name == "float32"


def test_float16_uses_loss_scaling():
  """mixed_precision="float16" gives loss-scaling optimisers (Keras 3 LossScaleOptimizer around Adam, same lr
  and betas); float32 and bfloat16 do not scale; an unknown precision is a one-line ValueError."""
  opt = precision.make_optimizer(1e-4, 0.0, 0.999, "float16")
  assert isinstance(opt, keras.optimizers.LossScaleOptimizer)
  assert isinstance(opt.inner_optimizer, keras.optimizers.Adam)
  assert opt.inner_optimizer.beta_1 == 0.0
  for p in ("float32", "bfloat16"):
    assert not isinstance(precision.make_optimizer(1e-4, 0.0, 0.999, p), keras.optimizers.LossScaleOptimizer)
  with pytest.raises(ValueError, match="unknown mixed_precision"):
    precision.policy_name("float8")


@pytest.mark.slow
def test_xla_step(tiny_config):
  """train.xla=True: the per-replica D and G steps are jit-compiled and a training step runs with finite
  losses (the TensorFlow wheels this project installs compile XLA on CPU: a failure here is a failure)."""
  trainer, metrics = _one_step(tiny_config(xla=True, deterministic=False))
  assert all(math.isfinite(v) for v in metrics.values()), metrics
  assert int(trainer.g_opt.iterations.numpy()) == 1
