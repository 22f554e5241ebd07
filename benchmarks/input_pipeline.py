"""Input-pipeline throughput versus the rate one training step consumes clips (docs/data.md).

    python benchmarks/input_pipeline.py [--batches 20] [--model_batch 2] [--skip_models]

For each config (the tiny experiment, and the paper's 12-frame 64x64 Kinetics config) it measures
  * pipeline clips/s: make_dataset(config, split="train", training=True) iterated on this machine, on
      - "synthetic": the embedded synthetic set (what experiments/tiny.py trains on), and
      - "kinetics600 fixture": the real TFDS path (TFRecords -> JPEG decode of the chosen frames -> resize ->
        crop) on a Kinetics-600 builder prepared here from PyAV-written 320x240 clips (no real data here);
  * consumption clips/s: one training cycle of that config's models (dvd_gan.models.build.build_models with
    the config's widths) = d_steps_per_g_step D updates (each eats one real batch) + one G update, timed at
    --model_batch clips per step; clips/s = d_steps * batch / cycle time (per-clip cost assumed constant in
    the batch size).
Target: pipeline >= 3x consumption. Prints a table and writes benchmarks/results/input_pipeline.json
(temporary file, then renamed).
"""
import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dvd_gan.config import base_config  # noqa: E402
from dvd_gan.data import make_dataset, num_classes  # noqa: E402

TARGET_RATIO = 3.0


def tiny_config():
  spec = importlib.util.spec_from_file_location("tiny", os.path.join(ROOT, "experiments", "tiny.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def paper_64_config():
  c = base_config()  # 12 frames, 64x64, Kinetics-600, paper widths
  c.data.name = "kinetics600"
  c.data.stride = 2
  return c


def write_kinetics_fixture(root, num_clips, num_frames, seed=0):
  """num_clips 320x240 mpeg4 clips at 25 fps and a train.csv in `root` (flat layout)."""
  import av  # pylint: disable=g-import-not-at-top
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
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from dvd_gan.data import kinetics600  # pylint: disable=g-import-not-at-top
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


def consumption_rate(config, model_batch, repeats=2):
  """(clips/s consumed by d_steps D updates + 1 G update, seconds per cycle) at `model_batch` clips per step."""
  import keras  # pylint: disable=g-import-not-at-top
  from dvd_gan import losses  # pylint: disable=g-import-not-at-top
  from dvd_gan.models.build import build_models  # pylint: disable=g-import-not-at-top
  g, ds, dt = build_models(config)
  b, t, r = model_batch, int(config.num_frames), int(config.resolution)
  n, z_dim = int(config.num_classes), int(config.model.z_dim)
  d_opt = keras.optimizers.Adam(config.train.d_lr, beta_1=config.train.beta1, beta_2=config.train.beta2)
  g_opt = keras.optimizers.Adam(config.train.g_lr, beta_1=config.train.beta1, beta_2=config.train.beta2)
  d_vars = ds.trainable_variables + dt.trainable_variables
  rng = tf.random.Generator.from_seed(0)

  def labels():
    return rng.uniform([b], 0, n, dtype=tf.int32) if n > 0 else None

  @tf.function
  def d_step(real):
    y = labels()
    z = rng.normal([b, z_dim])
    with tf.GradientTape() as tape:
      fake = g(z, y, training=True)
      loss = (losses.d_hinge_loss(ds(real, y, training=True), ds(fake, y, training=True))
              + losses.d_hinge_loss(dt(real, y, training=True), dt(fake, y, training=True)))
    d_opt.apply_gradients(zip(tape.gradient(loss, d_vars), d_vars))
    return loss

  @tf.function
  def g_step():
    y = labels()
    z = rng.normal([b, z_dim])
    with tf.GradientTape() as tape:
      fake = g(z, y, training=True)
      loss = losses.g_hinge_loss(ds(fake, y, training=True)) + losses.g_hinge_loss(dt(fake, y, training=True))
    g_opt.apply_gradients(zip(tape.gradient(loss, g.trainable_variables), g.trainable_variables))
    return loss

  real = tf.random.uniform([b, t, r, r, 3], -1.0, 1.0, seed=1)
  d_steps = int(config.train.d_steps_per_g_step)
  d_step(real).numpy(), g_step().numpy()  # trace + warm up
  start = time.perf_counter()
  for _ in range(repeats):
    for _ in range(d_steps):
      d_step(real).numpy()
    g_step().numpy()
  cycle = (time.perf_counter() - start) / repeats
  return d_steps * b / cycle, cycle


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batches", type=int, default=20, help="timed batches per pipeline")
  parser.add_argument("--pipeline_batch", type=int, default=16, help="clips per pipeline batch (<= config)")
  parser.add_argument("--model_batch", type=int, default=2, help="clips per timed D/G step")
  parser.add_argument("--clips", type=int, default=16, help="clips in the Kinetics fixture")
  parser.add_argument("--clip_frames", type=int, default=64, help="frames per fixture clip")
  parser.add_argument("--skip_models", action="store_true", help="measure the pipelines only")
  parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "input_pipeline.json"))
  args = parser.parse_args(argv)

  work_dir = tempfile.mkdtemp(prefix="dvd_gan_bench_")
  kinetics_dir, prepare_seconds = prepare_kinetics(work_dir, args.clips, args.clip_frames)
  results = {"machine": {"cpus": os.cpu_count()}, "kinetics_fixture": {
      "clips": args.clips, "frames_per_clip": args.clip_frames, "source_size": "320x240",
      "stored_config": "kinetics600/64", "prepare_seconds": round(prepare_seconds, 2)}, "rows": []}

  for name, make_config in (("tiny", tiny_config), ("64x64x12", paper_64_config)):
    config = make_config()
    config.num_classes = num_classes(config) if config.data.name == "synthetic" else config.num_classes
    consumed = cycle = None
    if not args.skip_models:
      try:
        consumed, cycle = consumption_rate(config, args.model_batch)
      except Exception as e:  # pylint: disable=broad-except  # models missing/broken: pipeline alone
        print(f"[{name}] model step not measured: {type(e).__name__}: {e}")
    sources = ["synthetic", "kinetics600"] if name == "tiny" else ["kinetics600"]
    for source in sources:
      c = make_config()
      c.batch_size = min(int(c.batch_size), args.pipeline_batch)
      c.data.name = source
      if source == "kinetics600":
        c.data.data_dir = kinetics_dir
        c.data.tfds_config = "64"
        c.data.cache = "none"
      rate = pipeline_rate(c, args.batches)
      row = {"config": name, "frames": int(c.num_frames), "resolution": int(c.resolution),
             "stride": int(c.data.stride), "source": source, "pipeline_batch": int(c.batch_size),
             "pipeline_clips_per_s": round(rate, 1),
             "model_batch": args.model_batch if consumed else None,
             "g_cycle_seconds": round(cycle, 3) if cycle else None,
             "consumed_clips_per_s": round(consumed, 2) if consumed else None,
             "ratio": round(rate / consumed, 1) if consumed else None,
             "meets_3x": (rate >= TARGET_RATIO * consumed) if consumed else None}
      results["rows"].append(row)

  header = f"{'config':9} {'source':12} {'T':>3} {'res':>4} {'str':>3} {'pipe clips/s':>12} " \
           f"{'cycle s (b)':>12} {'consumed/s':>10} {'ratio':>6}  >=3x"
  print(header)
  print("-" * len(header))
  for r in results["rows"]:
    cyc = f"{r['g_cycle_seconds']} ({r['model_batch']})" if r["g_cycle_seconds"] else "n/a"
    print(f"{r['config']:9} {r['source']:12} {r['frames']:>3} {r['resolution']:>4} {r['stride']:>3} "
          f"{r['pipeline_clips_per_s']:>12} {cyc:>12} {str(r['consumed_clips_per_s']):>10} "
          f"{str(r['ratio']):>6}  {r['meets_3x']}")
  os.makedirs(os.path.dirname(args.out), exist_ok=True)
  tmp = args.out + ".tmp"
  with open(tmp, "w") as f:
    json.dump(results, f, indent=2)
  os.replace(tmp, args.out)
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
