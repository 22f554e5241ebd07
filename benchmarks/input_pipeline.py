"""Input-pipeline throughput versus the rate one training step consumes clips (docs/data.md).

    python benchmarks/input_pipeline.py [--batches=20] [--model_batch=2] [--skip_models] [--out=PATH]

For each config (the tiny experiment, and the paper's 12-frame 64x64 Kinetics config) it measures
  * pipeline clips/s: make_dataset(config, split="train", training=True) iterated on this machine, on
      - "synthetic": the embedded synthetic set (what experiments/tiny.py trains on), and
      - "kinetics600 fixture": the real TFDS path (TFRecords -> JPEG decode of the chosen frames -> resize ->
        crop) on a Kinetics-600 builder prepared here from PyAV-written 320x240 clips (no real data here);
  * consumption clips/s: one training step of that config (dvd_gan.training.trainer.Trainer.train_step with
    the config's models = d_steps_per_g_step D updates, each eating one real batch, + one G update + EMA),
    timed in the same process; clips/s = d_steps * batch / step time. The tiny config is timed at its own
    batch size (8); the 64x64x12 config at --model_batch clips (its 512 cannot run on a CPU), i.e. the
    per-clip cost is assumed constant in the batch size.
Target: pipeline >= 3x consumption. Prints a table and writes benchmarks/results/input_pipeline.json
(temporary file, then renamed).
"""
import json
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import av  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402
from absl import flags  # noqa: E402

from dvd_gan import experiments  # noqa: E402
from dvd_gan.config import base_config  # noqa: E402
from dvd_gan.data import kinetics600, make_dataset, num_classes  # noqa: E402
from dvd_gan.training.loop import resolve_config  # noqa: E402
from dvd_gan.training.trainer import build_trainer  # noqa: E402
from eval import command  # noqa: E402
from eval import io as eio  # noqa: E402

TARGET_RATIO = 3.0


def tiny_config():
  return experiments.load("tiny")


def paper_64_config():
  c = base_config()  # 12 frames, 64x64, Kinetics-600, paper widths
  c.data.name = "kinetics600"
  c.data.stride = 2
  return c


def write_kinetics_fixture(root, num_clips, num_frames, seed=0):
  """num_clips 320x240 mpeg4 clips at 25 fps and a train.csv in `root` (flat layout)."""
  rng = np.random.default_rng(seed)
  classes = ["abseiling", "air drumming", "archery", "zumba"]
  rows = []
  for i in range(num_clips):
    yid = f"bench{i:06d}"
    path = os.path.join(root, f"{yid}_000000_000010.mp4")
    base = rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    with av.open(path, mode="w") as container:
      stream = container.add_stream("mpeg4", rate=25)
      stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
      for t in range(num_frames):
        frame = av.VideoFrame.from_ndarray(np.roll(base, 3 * t, axis=1), format="rgb24")
        for packet in stream.encode(frame):
          container.mux(packet)
      for packet in stream.encode():
        container.mux(packet)
    rows.append(f"{classes[i % len(classes)]},{yid},0,10,train")
  with open(os.path.join(root, "train.csv"), "w") as f:
    f.write("label,youtube_id,time_start,time_end,split\n" + "\n".join(rows) + "\n")


def prepare_kinetics(work_dir, num_clips, num_frames):
  manual = os.path.join(work_dir, "manual")
  os.makedirs(manual)
  start = time.perf_counter()
  write_kinetics_fixture(manual, num_clips, num_frames)
  data_dir = os.path.join(work_dir, "tfds")
  builder = kinetics600.Kinetics600(config="64", data_dir=data_dir)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))
  return data_dir, time.perf_counter() - start


def pipeline_rate(config, batches, warmup=5):
  """Clips/s of make_dataset(config, train) over `batches` batches after `warmup` batches."""
  ds = make_dataset(config, split="train", training=True)
  it = iter(ds)
  for _ in range(warmup):
    next(it)
  start = time.perf_counter()
  for _ in range(batches):
    batch = next(it)
  _ = batch["video"].numpy()
  return batches * int(config.batch_size) / (time.perf_counter() - start)


def consumption_rate(config, model_batch, repeats=2, log=print):
  """(clips/s consumed by one training step, seconds per step) of the project's own training step.

  Builds `dvd_gan.training.trainer.build_trainer(config)` with the config's models at `model_batch` clips per
  step (config.batch_size itself when model_batch is 0) and times `trainer.train_step` (d_steps_per_g_step D
  updates, each eating one real batch, + one G update + EMA) on an in-memory batch, after one warm-up step.
  Consumption = d_steps * batch / step time (the fastest of `repeats` timed steps).
  """
  c = resolve_config(config)  # as trained: the synthetic data's 8 classes for tiny
  c.batch_size = int(model_batch) or int(config.batch_size)
  c.train.xla = False
  b, t, r = int(c.batch_size), int(c.num_frames), int(c.resolution)
  trainer = build_trainer(c, tf.distribute.get_strategy())
  batch = {"video": tf.random.uniform([b, t, r, r, 3], -1.0, 1.0, seed=1),
           "label": tf.zeros([b], tf.int32)}
  iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
  start = time.perf_counter()
  trainer.train_step(iterator)  # trace + warm up
  log(f"  first (tracing) step: {time.perf_counter() - start:.1f} s at batch {b}")
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    metrics = trainer.train_step(iterator)
    _ = {k: float(v) for k, v in metrics.items()}
    times.append(time.perf_counter() - start)
    log(f"  step: {times[-1]:.2f} s")
  step = min(times)
  return int(c.train.d_steps_per_g_step) * b / step, step, b


def load_average():
  try:
    return [round(x, 2) for x in os.getloadavg()]
  except OSError:
    return None


def define_flags(fv, argv):
  d = dict(flag_values=fv)
  flags.DEFINE_integer("batches", 20, "Timed batches per pipeline.", lower_bound=1, **d)
  flags.DEFINE_integer("pipeline_batch", 16, "Clips per pipeline batch (<= config).", lower_bound=1, **d)
  flags.DEFINE_integer("model_batch", 2, "Clips per timed training step of the 64x64x12 config (its 512 does "
                       "not fit a CPU); the tiny config is timed at its own batch size.", lower_bound=1, **d)
  flags.DEFINE_integer("clips", 16, "Clips in the Kinetics fixture.", lower_bound=1, **d)
  flags.DEFINE_integer("clip_frames", 64, "Frames per fixture clip.", lower_bound=1, **d)
  flags.DEFINE_boolean("skip_models", False, "Measure the pipelines only.", **d)
  flags.DEFINE_string("out", os.path.join(ROOT, "benchmarks", "results", "input_pipeline.json"), "JSON output.",
                      **d)
  flags.DEFINE_integer("repeats", 2, "Timed training steps per config.", lower_bound=1, **d)
  flags.DEFINE_list("step_configs", ["tiny", "64x64x12"], "Configs whose training step is timed (the 64x64x12 "
                    "paper-width step needs ~14 GB of memory and many minutes on 2 shared cores).", **d)


def body(fv, args):
  def log(msg):
    print(msg, flush=True)

  work_dir = tempfile.mkdtemp(prefix="dvd_gan_bench_")
  load_before = load_average()
  kinetics_dir, prepare_seconds = prepare_kinetics(work_dir, fv.clips, fv.clip_frames)
  results = {"machine": {"cpus": os.cpu_count(), "load_average_1_5_15_before": load_before},
             "kinetics_fixture": {
                 "clips": fv.clips, "frames_per_clip": fv.clip_frames, "source_size": "320x240",
                 "stored_config": "kinetics600/64", "prepare_seconds": round(prepare_seconds, 2)},
             "rows": []}

  for name, make_config, model_batch in (("tiny", tiny_config, 0), ("64x64x12", paper_64_config, fv.model_batch)):
    sources = ["synthetic", "kinetics600"] if name == "tiny" else ["kinetics600"]
    rates = {}
    for source in sources:  # the pipelines first: cheap, and measured before the model fills the memory
      c = make_config()
      c.batch_size = min(int(c.batch_size), fv.pipeline_batch)
      c.data.name = source
      if source == "kinetics600":
        c.data.data_dir = kinetics_dir
        c.data.tfds_config = "64"
        c.data.cache = "none"  # measure decoding, not a memory cache
      rates[source] = (pipeline_rate(c, fv.batches), c)
      log(f"[{name}] {source} pipeline: {rates[source][0]:.1f} clips/s")
    config = make_config()
    config.num_classes = num_classes(config) if config.data.name == "synthetic" else config.num_classes
    consumed = step = timed_batch = None
    if not fv.skip_models and name in fv.step_configs:
      try:
        log(f"[{name}] timing the training step")
        consumed, step, timed_batch = consumption_rate(config, model_batch, fv.repeats, log)
      except Exception as e:  # models missing/broken: pipeline alone
        log(f"[{name}] training step not measured: {type(e).__name__}: {e}")
    for source, (rate, c) in rates.items():
      row = {"config": name, "frames": int(c.num_frames), "resolution": int(c.resolution),
             "stride": int(c.data.stride), "source": source, "pipeline_batch": int(c.batch_size),
             "pipeline_clips_per_s": round(rate, 1),
             "step_batch": timed_batch, "config_batch": int(config.batch_size),
             "step_seconds": round(step, 3) if step else None,
             "consumed_clips_per_s": round(consumed, 2) if consumed else None,
             "ratio": round(rate / consumed, 1) if consumed else None,
             "meets_3x": (rate >= TARGET_RATIO * consumed) if consumed else None}
      results["rows"].append(row)
  results["machine"]["load_average_1_5_15_after"] = load_average()

  header = (f"{'config':9} {'source':12} {'T':>3} {'res':>4} {'str':>3} {'pipe clips/s':>12} "
            f"{'step s (b)':>13} {'consumed/s':>10} {'ratio':>6}  >=3x")
  print(f"load average before/after: {load_before} / {results['machine']['load_average_1_5_15_after']}")
  print(header)
  print("-" * len(header))
  for r in results["rows"]:
    st = f"{r['step_seconds']} ({r['step_batch']})" if r["step_seconds"] else "n/a"
    print(f"{r['config']:9} {r['source']:12} {r['frames']:>3} {r['resolution']:>4} {r['stride']:>3} "
          f"{r['pipeline_clips_per_s']:>12} {st:>13} {str(r['consumed_clips_per_s']):>10} "
          f"{str(r['ratio']):>6}  {r['meets_3x']}")
  eio.write_text(fv.out, json.dumps(results, indent=2))
  shutil.rmtree(work_dir, ignore_errors=True)
  print(f"wrote {fv.out}")


def main(argv=None):
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
