"""dvd_gan.generators: the tf.Modules an export serves."""
import types

from dvd_gan import generators
from dvd_gan.config import base_config


def _generator_stub(num_conditioning_frames):
  """What Sampler / Predictor read of a generator when they are made (no signature is traced here)."""
  return types.SimpleNamespace(num_classes=0, z_dim=8, embed_dim=0, resolution=16, num_frames=3,
                               num_conditioning_frames=num_conditioning_frames)


def test_served_module_keeps_the_given_bounds_for_both_kinds():
  """The bounds given to make_served_module (the export's --max_batch_size / --max_latents, written to
  export_meta.json) are the module's constants for a DVD-GAN-FP predictor as for a sampler."""
  for num_context in (0, 2):
    config = base_config()
    config.data.num_conditioning_frames = num_context
    module = generators.make_served_module(_generator_stub(num_context), config, max_batch_size=5, max_latents=7)
    assert isinstance(module, generators.Predictor) == (num_context > 0)
    assert int(module.max_batch_size.numpy()) == 5 and int(module.max_latents.numpy()) == 7, num_context
