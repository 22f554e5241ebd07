"""Prepare a folder of videos for training (docs/data.md, "Your own videos").

    python -m dvd_gan.prepare_videos --videos=DIR [--data_dir=DATA_DIR] [--resolution=64] [--min_frames=23]
        [--labels=folders|none] [--num_workers=N] [--beam --beam_options="--runner=DataflowRunner ..."]
    (dvd-gan-prepare-videos is the same command.)

Scans DIR (local or gs://; layouts: DIR/*.ext, DIR/<class>/*.ext, DIR/{train,validation,test}/[<class>/]*.ext,
frame folders of numbered png/jpg at any of those levels), decodes every video with N worker processes (or an
Apache Beam pipeline), stores its frames at shorter side --resolution as JPEG in the TFDS dataset
`<DATA_DIR>/video_folder/r<resolution>_<fingerprint>/` (DATA_DIR default: the TFDS default,
~/tensorflow_datasets or $TFDS_DATA_DIR), shows a progress bar, then prints one line per split: clips kept per
class, skipped by reason. A folder prepared already (same files, same resolution) is not decoded again.
Train on it with `python -m dvd_gan.train --config=video_folder --config.data.videos=DIR
--config.data.data_dir=DATA_DIR` (same resolution). A folder with no video, an unreadable DIR, a folder whose
every file is broken or a class folder with no usable clip: `error: ...`, exit status 2, nothing written.
"""
import shlex

from absl import flags

from eval import command

DEFAULT_MIN_FRAMES = 23  # 12 frames every 2nd frame: experiments/video_folder.py


def define_flags(fv, argv) -> None:
  del argv
  flags.DEFINE_string("videos", None, "Folder of videos (local or gs://).", flag_values=fv)
  flags.DEFINE_string("data_dir", "", "TFDS data_dir to prepare into ('' = the TFDS default).", flag_values=fv)
  flags.DEFINE_integer("resolution", 64, "Shorter side of the stored frames (train with the same "
                       "config.resolution).", lower_bound=8, flag_values=fv)
  flags.DEFINE_integer("min_frames", DEFAULT_MIN_FRAMES, "Videos with fewer frames are skipped (counted "
                       "too_short); training needs (num_frames - 1) * stride + 1.", lower_bound=1, flag_values=fv)
  flags.DEFINE_enum("labels", "folders", ["folders", "none"], "Class folders give the labels, or are ignored.",
                    flag_values=fv)
  flags.DEFINE_integer("num_workers", None, "Decoder processes (default: all cores; 1: in-process).",
                       lower_bound=1, flag_values=fv)
  flags.DEFINE_bool("beam", False, "Decode in an Apache Beam pipeline (needs apache-beam).", flag_values=fv)
  flags.DEFINE_string("beam_options", "--runner=DirectRunner", "Beam pipeline options (with --beam).",
                      flag_values=fv)
  flags.DEFINE_bool("progress", True, "Show TFDS's progress bars (stderr).", flag_values=fv)


def body(fv, args) -> int:
  if args:
    raise command.UsageError(f"unexpected arguments: {' '.join(args)}")
  if not fv.videos:
    raise command.UsageError("--videos is required (the folder of videos)")
  from dvd_gan.data import video_folder, video_folder_layout  # noqa: PLC0415 - TensorFlow loads after the flags
  layout = video_folder_layout.scan(fv.videos, labels=fv.labels)
  builder = video_folder.prepare(layout, data_dir=fv.data_dir, size=fv.resolution, min_frames=fv.min_frames,
                                 num_workers=fv.num_workers, use_beam=fv.beam,
                                 download_config=_download_config(fv), progress=fv.progress,
                                 log=lambda s: print(s, flush=True))
  for line in video_folder.summary_lines(builder):
    print(line, flush=True)
  print(f"prepared: {builder.data_dir}", flush=True)
  return 0


def _download_config(fv):
  if not fv.beam:
    return None
  import tensorflow_datasets as tfds  # noqa: PLC0415 - heavy: after the flags
  try:
    from apache_beam.options.pipeline_options import PipelineOptions  # noqa: PLC0415 - optional (beam extra)
  except ImportError:
    raise command.UsageError("--beam needs apache-beam (pip install 'dvd-gan[beam]')") from None
  return tfds.download.DownloadConfig(beam_options=PipelineOptions(flags=shlex.split(fv.beam_options)))


def main(argv=None) -> int:
  """`dvd-gan-prepare-videos` / `python -m dvd_gan.prepare_videos`: 0, or 2 for bad input."""
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


def run() -> None:
  """Console entry point (setup.py: dvd-gan-prepare-videos)."""
  command.run(main)


if __name__ == "__main__":
  run()
