"""dvd_gan.run_folder: a run's generator is built without its discriminators; checkpoints by name or step."""
import pytest

from dvd_gan import run_folder
from dvd_gan.config import resolve_config
from dvd_gan.models import discriminators
from dvd_gan.errors import UserError
from tests.dvd_gan.training.conftest import make_tiny_config


def test_build_generator_constructs_no_discriminator(monkeypatch):
  """Loading a run's G_ema needs G only: DS and DT are never constructed (at paper size they hold most of
  the parameters)."""
  def refuse(self, *args, **kwargs):
    raise AssertionError(f"{type(self).__name__} constructed while loading a generator")
  monkeypatch.setattr(discriminators.SpatialDiscriminator, "__init__", refuse)
  monkeypatch.setattr(discriminators.TemporalDiscriminator, "__init__", refuse)
  g = run_folder.build_generator(resolve_config(make_tiny_config()))
  assert g.weights and g.num_frames == 4 and g.resolution == 16


def test_checkpoints_of_an_empty_folder_are_one_line_errors(tmp_path):
  with pytest.raises(UserError, match="no checkpoint in .*: train first"):
    run_folder.latest_checkpoint(str(tmp_path))
  with pytest.raises(UserError, match="no checkpoint of step 3 in .*steps available: none"):
    run_folder.resolve_checkpoint(str(tmp_path), "3")
  with pytest.raises(UserError, match="must be best, last or a step number"):
    run_folder.resolve_checkpoint(str(tmp_path), "newest")
  with pytest.raises(UserError, match="config.json not found: not a training run folder"):
    run_folder.load_config(str(tmp_path))
