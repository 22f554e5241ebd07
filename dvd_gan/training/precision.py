"""Mixed precision as a config choice: "float32" (CPU), "bfloat16" (TPU), "float16" (GPU, with loss scaling).

Keras 3 reads its dtype policy when a layer is constructed, so the policy only has to be in force while the
models are built; `policy_scope` sets it for that block and restores the previous one (no global state leaks).
Losses are always computed in float32 (the discriminator scores are cast before the hinge).
"""
import contextlib

import keras

from dvd_gan.training import fused_adam

PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def policy_name(precision: str) -> str:
  """Keras dtype-policy name of a config precision; ValueError on an unknown one."""
  if precision not in PRECISIONS:
    raise ValueError(f"unknown mixed_precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
  return PRECISIONS[precision]


@contextlib.contextmanager
def policy_scope(precision: str):
  """Within the block, newly built Keras layers compute in `precision` (variables stay float32)."""
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(policy_name(precision))
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


def make_optimizer(learning_rate, beta1: float, beta2: float, precision: str, fused: bool = True):
  """Adam (BigGAN's betas); wrapped in a dynamic LossScaleOptimizer for float16. `learning_rate`: a float or
  a Keras LearningRateSchedule (lr_schedule.py).

  `fused`: one fused kernel per variable (`fused_adam.FusedAdam`, the same update within float rounding,
  far fewer ops: the small demo's step is bound by its op count); False: Keras's own Adam.
  """
  adam = fused_adam.FusedAdam if fused else keras.optimizers.Adam
  opt = adam(learning_rate=learning_rate, beta_1=beta1, beta_2=beta2)
  if precision == "float16":
    opt = keras.optimizers.LossScaleOptimizer(opt)
  return opt
