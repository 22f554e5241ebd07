"""Input pipelines: synthetic videos, UCF-101, BAIR robot pushing, Kinetics-600, a folder of videos (docs/data.md).

The public entry points are imported lazily so that light modules of this package (e.g. `clips`, used in
spawned decoding workers) do not pull in TensorFlow.
"""


def make_dataset(config, *, split, training, input_context=None, seed=None):
  """See `dvd_gan.data.pipeline.make_dataset`."""
  from dvd_gan.data import pipeline  # noqa: PLC0415 - loads TensorFlow; dvd_gan.data.config must not
  return pipeline.make_dataset(config, split=split, training=training, input_context=input_context, seed=seed)


def num_classes(config) -> int:
  """See `dvd_gan.data.pipeline.num_classes`."""
  from dvd_gan.data import pipeline  # noqa: PLC0415 - loads TensorFlow; dvd_gan.data.config must not
  return pipeline.num_classes(config)


def resolve_video_folder(config, log=print, *, prepare_here: bool = True) -> None:
  """See `dvd_gan.data.video_folder.resolve_config` (a no-op for other datasets)."""
  if config.data.get("name") != "video_folder":
    return
  from dvd_gan.data import video_folder  # noqa: PLC0415 - loads TensorFlow Datasets
  video_folder.resolve_config(config, log, prepare_here=prepare_here)


def video_folder_name(config) -> str:
  """See `dvd_gan.data.video_folder.planned_name`."""
  from dvd_gan.data import video_folder  # noqa: PLC0415 - loads TensorFlow Datasets
  return video_folder.planned_name(config)
