"""Throughput of the full FVD pipeline versus bare I3D forward passes, in one process.

pipeline: videos decoded from mp4 files (PyAV, in the prefetch thread of eval.features), stacked into fixed
          batches, TF1-bilinear resize to 224x224, Kinetics-400 I3D logits, float64 statistics, Fréchet
          distance.
bare_i3d: the I3D forward alone (`network.model`) on the same videos, already decoded and preprocessed to
          [B, T, 224, 224, 3] tensors in memory (the reference rate).
bare_features: `network.features` (resize + I3D) on the same decoded uint8 tensors in memory.
Target: pipeline videos/s >= 90% of bare videos/s. Each mode runs `--repeats` times, interleaved, after one
warm-up each; the best run of each mode is compared (the machine is shared: the load average before and after
is recorded). Prints a table and writes benchmarks/results/fvd_pipeline.json; with --append the run is added
to the runs already in that file (`{"runs": [...]}`), so that repeated invocations are all kept.

    python benchmarks/fvd_pipeline.py [--num_videos=8 --batch_size=4 --frames=16 --size=64 --repeats=2]
"""
import json
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import av
import numpy as np
import tensorflow as tf
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from eval import command  # noqa: E402
from eval import io as eio  # noqa: E402
from eval import video_io  # noqa: E402
from eval.features import extract_features  # noqa: E402
from eval.metrics.frechet import frechet_distance  # noqa: E402
from eval.networks import get_network  # noqa: E402


def define_flags(fv, argv):
  d = dict(flag_values=fv)
  flags.DEFINE_integer("num_videos", 8, "Videos per run.", lower_bound=1, **d)
  flags.DEFINE_integer("batch_size", 4, "Videos per forward pass.", lower_bound=1, **d)
  flags.DEFINE_integer("frames", 16, "Frames per video.", lower_bound=9, **d)
  flags.DEFINE_integer("size", 64, "Height and width of the videos on disk.", lower_bound=8, **d)
  flags.DEFINE_integer("repeats", 2, "Timed runs per mode.", lower_bound=1, **d)
  flags.DEFINE_boolean("append", False, "Add this run to the runs already in --out.", **d)
  flags.DEFINE_string("out", os.path.join(ROOT, "benchmarks", "results", "fvd_pipeline.json"), "JSON.", **d)


def _write_mp4s(directory, n, t, size, seed=0):
  rng = np.random.default_rng(seed)
  for i in range(n):
    video = np.clip(rng.integers(0, 256, size=(1, 1, 1, 3)) + rng.integers(-30, 30, size=(t, size, size, 3)),
                    0, 255).astype(np.uint8)
    with av.open(os.path.join(directory, f"{i:04d}.mp4"), "w") as container:
      stream = container.add_stream("libx264", rate=25)
      stream.height = stream.width = size
      stream.pix_fmt = "yuv420p"
      for frame in video:
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
          container.mux(packet)
      for packet in stream.encode():
        container.mux(packet)


def body(fv, args):
  n, b, t = fv.num_videos, fv.batch_size, fv.frames
  load_before = os.getloadavg()
  net = get_network("i3d-kinetics-400")
  with tempfile.TemporaryDirectory() as tmp:
    _write_mp4s(tmp, n, t, fv.size)
    decoded = np.stack([v for _, v in video_io.iter_videos(tmp, frames=t)])
    inputs = [net.preprocess(decoded[i:i + b]) for i in range(0, n, b)]  # same tensors, preprocessed
    forward = tf.function(lambda x: net.model(x, training=False)["logits"])
    batches = [tf.constant(decoded[i:i + b]) for i in range(0, n, b)]
    features = tf.function(lambda x: net.features(x, "logits"))

    def bare():
      for x in inputs:
        forward(x).numpy()

    def bare_features():
      for x in batches:
        features(x).numpy()

    def pipeline():
      stats = extract_features(video_io.iter_videos(tmp, frames=t, min_frames=net.min_frames), net, "logits",
                               batch_size=b, progress=False)
      frechet_distance(stats.mean, stats.cov, stats.mean, stats.cov)

    runs = {"bare_i3d": bare, "bare_features": bare_features, "pipeline": pipeline}
    for fn in runs.values():  # warm-up: traces and compiles both
      fn()
    times = {k: [] for k in runs}
    for _ in range(fv.repeats):
      for name, fn in runs.items():
        start = time.perf_counter()
        fn()
        times[name].append(time.perf_counter() - start)
  rate = {k: n / min(v) for k, v in times.items()}
  ratio = rate["pipeline"] / rate["bare_i3d"]
  width = max(len(k) for k in runs)
  print(f"{'mode':<{width}} {'videos/s':>9} {'best s':>8}   runs (s)")
  for k in runs:
    print(f"{k:<{width}} {rate[k]:9.3f} {min(times[k]):8.2f}   {', '.join(f'{s:.2f}' for s in times[k])}")
  print(f"pipeline / bare_i3d = {ratio:.1%} (target >= 90%); pipeline / bare_features = "
        f"{rate['pipeline'] / rate['bare_features']:.1%}")
  record = {"videos_per_second": rate, "pipeline_over_bare_i3d": ratio,
            "pipeline_over_bare_features": rate["pipeline"] / rate["bare_features"], "target": 0.9,
            "meets_target": ratio >= 0.9,
            "seconds": times, "num_videos": n, "batch_size": b, "frames": t, "size": fv.size,
            "network": net.name, "weights_sha256": net.weights_sha256, "device": "cpu" if not
            tf.config.list_physical_devices("GPU") else "gpu", "cpu_count": os.cpu_count(),
            "machine": platform.machine(), "tensorflow": tf.__version__,
            "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "load_average_1_5_15_before": load_before, "load_average_1_5_15_after": os.getloadavg()}
  print(f"load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; after: "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
  runs = []
  if fv.append and os.path.isfile(fv.out):
    with open(fv.out, encoding="utf-8") as f:
      runs = json.load(f).get("runs", [])
  text = json.dumps({"runs": runs + [record]}, indent=2)
  eio.write_text(fv.out, text)
  print(f"wrote {fv.out}")


def main(argv=None):
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
