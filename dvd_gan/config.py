"""The base configuration every experiment file in `experiments/` starts from.

An experiment file is a Python file with `get_config()` returning an `ml_collections.ConfigDict`
(google-research/big_vision's convention), selected with absl flags:

    python -m dvd_gan.train --config=experiments/kinetics600_12f_64.py --config.batch_size=8

Layout of the config (each section is owned by one sub-package):
  seed, num_frames (T), resolution (H = W), num_classes (0 = unconditional), batch_size (global, split over
  replicas)
  model: dvd_gan.models.config.model_config()      -- G, DS, DT widths and options
  data:  dvd_gan.data.config.data_config()         -- dataset, split, stride, pipeline options
  train: dvd_gan.training.config.train_config()    -- schedule, optimisers, EMA, precision, checkpoints
  eval:  dvd_gan.training.config.eval_config()     -- what the run scores at its end / periodically
"""
import ml_collections

from dvd_gan.data.config import data_config
from dvd_gan.models.config import model_config
from dvd_gan.training.config import eval_config, train_config


def base_config() -> ml_collections.ConfigDict:
  """Paper defaults: Kinetics-600, 12 frames at 64x64, batch 512 (docs/paper.md; appendix A)."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.num_frames = 12
  c.resolution = 64
  c.num_classes = 600
  c.batch_size = 512
  c.model = model_config()
  c.data = data_config()
  c.train = train_config()
  c.eval = eval_config()
  return c


def resolve_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Fills the derived keys: num_classes = the dataset's class count when the config leaves it 0 for a
  dataset that has classes (synthetic: 8; video_folder: the folder's, which is prepared on first use, see
  dvd_gan.data.video_folder.resolve_config), except for DVD-GAN-FP (data.num_conditioning_frames > 0), which
  has no class input. Returns a copy. The training loop runs on the resolved config and writes it to the run
  folder's config.json; the tools resolve a config given on their command line the same way."""
  from dvd_gan import data as data_lib  # noqa: PLC0415 - the data pipeline loads TensorFlow; configs are read before
  config = config.copy_and_resolve_references()
  from dvd_gan.training.workdir_lock import is_chief_task  # noqa: PLC0415 - as data_lib
  # video_folder: prepares the folder on first use (only the chief of a multi-worker run), sets its classes.
  data_lib.resolve_video_folder(config, prepare_here=is_chief_task(config.train.get("strategy", "default")))
  prediction = int(config.data.get("num_conditioning_frames", 0)) > 0
  if int(config.num_classes) == 0 and config.train.get("conditional", True) and not prediction:
    config.num_classes = int(data_lib.num_classes(config))
  return config
