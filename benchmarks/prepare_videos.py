"""Preparation rate of a folder of videos (dvd_gan.data.video_folder, docs/data.md "Your own videos").

    python benchmarks/prepare_videos.py [--clips=24] [--frames=48] [--workers=1,2] [--batches=20]
        [--noinput_pipeline] [--nostep] [--model_batch=2] [--repeats=1] [--out=PATH]

Writes --clips PyAV mpeg4 clips of 320x240 at 25 fps (--frames frames each, 2 class folders) into a temporary
folder, then prepares it at shorter side 64 once per --workers value (a fresh data_dir each time) and reports
clips/s and frames/s of the whole preparation (scan, worker start-up, decode + resize + JPEG, TFRecord
writing): what a user waits for. Then, on the prepared folder, the training input pipeline of
experiments/video_folder.py (12 frames of 64x64, stride 2; make_dataset(train), cache "none": JPEG decode of
the chosen frames, resize, random crop) in clips/s, against the clips/s one training step of that config
consumes at a quarter of the paper's widths (G and D ch 32 instead of 128; --model_batch clips, per-clip cost
assumed constant in the batch; the fastest of --repeats timed steps after a warm-up step;
benchmarks/input_pipeline.py's method). Target: pipeline >= 3x consumption: the last lines are a table of
both rates and the headroom with PASS or MISS. Writes benchmarks/results/prepare_videos.json (temporary file,
then renamed; "training": the rates, "ratio", "meets_3x").

The headroom alone, in about 3 minutes (docs/performance.md):
    python benchmarks/prepare_videos.py --workers=2 --clips=16 --frames=24 --model_batch=1 \
        --out=benchmarks/results/folder_headroom.json
"""
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from absl import flags  # noqa: E402

from eval import command  # noqa: E402
from eval import io as eio  # noqa: E402


TARGET_RATIO = 3.0


def define_flags(fv, argv):
  del argv
  flags.DEFINE_integer("clips", 24, "Clips in the folder.", lower_bound=2, flag_values=fv)
  flags.DEFINE_integer("frames", 48, "Frames per clip.", lower_bound=24, flag_values=fv)
  flags.DEFINE_string("workers", "1,2", "Comma-separated worker-process counts to time.", flag_values=fv)
  flags.DEFINE_integer("batches", 20, "Timed pipeline batches (of 16 clips).", lower_bound=1, flag_values=fv)
  flags.DEFINE_bool("input_pipeline", True, "Also time the input pipeline on the prepared folder.",
                    flag_values=fv)
  flags.DEFINE_bool("step", True, "Also time the quarter-width 12x64x64 training step.", flag_values=fv)
  flags.DEFINE_integer("model_batch", 2, "Clips per timed training step.", lower_bound=1, flag_values=fv)
  flags.DEFINE_integer("repeats", 1, "Timed training steps (the fastest counts).", lower_bound=1, flag_values=fv)
  flags.DEFINE_string("out", os.path.join(ROOT, "benchmarks", "results", "prepare_videos.json"),
                      "Result JSON.", flag_values=fv)


def body(fv, args):
  import tensorflow_datasets as tfds  # noqa: PLC0415 - heavy: after the flags

  from dvd_gan.data import video_folder, video_folder_layout  # noqa: PLC0415 - as above
  from tests.dvd_gan.data.video_files import write_video  # noqa: PLC0415 - the tests' clip writer
  tfds.disable_progress_bar()
  tmp = tempfile.mkdtemp(prefix="prepare_videos_bench_")
  rows = []
  try:
    videos = os.path.join(tmp, "videos")
    for i in range(fv.clips):
      folder = os.path.join(videos, "train", f"class{i % 2}")
      os.makedirs(folder, exist_ok=True)
      write_video(os.path.join(folder, f"{i:03d}.mp4"), 240, 320, 25, fv.frames, seed=i)
    layout = video_folder_layout.scan(videos)
    for workers in [int(w) for w in fv.workers.split(",")]:
      start = time.perf_counter()
      builder = video_folder.prepare(layout, data_dir=os.path.join(tmp, f"tfds{workers}"), size=64,
                                     min_frames=23, num_workers=workers, log=lambda s: None)
      seconds = time.perf_counter() - start
      kept = builder.info.splits["train"].num_examples
      rows.append({"workers": workers, "clips": kept, "frames": kept * fv.frames, "seconds": round(seconds, 2),
                   "clips_per_s": round(kept / seconds, 2), "frames_per_s": round(kept * fv.frames / seconds, 1)})
      print(f"workers {workers}: {kept} clips of {fv.frames} frames 320x240 -> 64 in {seconds:.1f} s: "
            f"{kept / seconds:.2f} clips/s, {kept * fv.frames / seconds:.0f} frames/s", flush=True)
    training = _training_rates(fv, videos, os.path.join(tmp, f"tfds{workers}")) if fv.input_pipeline else {}
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  eio.write_json(fv.out, {"benchmark": "prepare_videos", "cpu_count": os.cpu_count(),
                          "load_average_after": list(os.getloadavg()), "rows": rows, "training": training})
  for line in headroom_table(training):
    print(line)
  print(f"wrote {fv.out}")
  return 0


def headroom_table(training: dict) -> list:
  """The lines of the rates table: pipeline, the step's consumption, headroom with PASS / MISS (>= 3x)."""
  if "pipeline_clips_per_s" not in training:
    return []
  rate = training["pipeline_clips_per_s"]
  lines = [f"{'training input, prepared folder (12x64x64, stride 2)':58} {'clips/s':>9}",
           f"{'  input pipeline (make_dataset train, cache none)':58} {rate:>9}"]
  if "consumed_clips_per_s" in training:
    step = f"  quarter-width step ({training['step_seconds']:.2f} s at batch {training['step_batch']})"
    lines += [f"{step:58} {training['consumed_clips_per_s']:>9}",
              f"headroom: pipeline / step = {training['ratio']}x, target >= {TARGET_RATIO:g}x: "
              f"{'PASS' if training['meets_3x'] else 'MISS'}"]
  return lines


def _training_rates(fv, videos, data_dir) -> dict:
  """Input pipeline clips/s on the prepared folder and the quarter-width step's consumption (docstring)."""
  from benchmarks.input_pipeline import consumption_rate, pipeline_rate  # noqa: PLC0415 - its method
  from dvd_gan import experiments  # noqa: PLC0415 - heavy: after the flags
  from dvd_gan.config import resolve_config  # noqa: PLC0415 - as above

  def config():
    c = experiments.load("video_folder")
    c.data.videos, c.data.data_dir, c.data.cache, c.batch_size = videos, data_dir, "none", 16
    return resolve_config(c)  # finds the folder prepared above (same files, same resolution)

  rate = pipeline_rate(config(), fv.batches)
  print(f"input pipeline (12 frames 64x64, stride 2): {rate:.1f} clips/s", flush=True)
  out = {"pipeline_clips_per_s": round(rate, 1)}
  if fv.step:
    c = config()
    c.model.g_ch, c.model.d_ch = 32, 32  # a quarter of the paper's 128
    consumed, step, batch = consumption_rate(c, fv.model_batch, fv.repeats, log=lambda s: print(s, flush=True))
    out.update(step_seconds=round(step, 3), step_batch=batch, consumed_clips_per_s=round(consumed, 3),
               ratio=round(rate / consumed, 1), target_ratio=TARGET_RATIO,
               meets_3x=bool(rate >= TARGET_RATIO * consumed))
    print(f"quarter-width step: {step:.2f} s at batch {batch}: {consumed:.2f} clips/s consumed; pipeline / "
          f"consumed = {rate / consumed:.1f}", flush=True)
  return out


def main(argv=None):
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
