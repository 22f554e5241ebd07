"""Shared machinery of benchmarks/run_all.py: interleaved best-of-N timing, the machine's matmul / conv peak,
the environment record, child processes that measure peak memory, and the rows of the printed table.

Every figure of run_all.py is a ratio of two timings (or a timing and the peak) taken in the same run,
interleaved (A, B, A, B, ...) and keeping the best of N, so that a load that comes and goes on a shared
machine hits both sides alike and the best repeat is the least disturbed one.
"""
import collections
import ctypes
import datetime
import glob
import importlib.util
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from eval.onednn import onednn_enabled  # first: TensorFlow's CPU kernels as every dvd_gan command runs them

import keras
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GIB = 1024 ** 3
# TensorFlow's host thread pools, read from the environment by every TensorFlow version (any checkout)
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def load_file(name: str, path: str):
  """The Python file `path` executed as a module called `name` (a config, or a file of another checkout)."""
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


# ---- timing ------------------------------------------------------------------------------------------------

def sync(x):
  """Waits for every tensor of `x` (a nest) to be computed."""
  for t in tf.nest.flatten(x):
    if hasattr(t, "numpy"):
      t.numpy()
  return x


def best_times(fns: dict, repeats: int, warmup: int = 1) -> dict:
  """{name: best seconds} of each zero-argument function, run interleaved `repeats` times after `warmup`
  untimed calls each (the first call traces)."""
  for fn in fns.values():
    for _ in range(warmup):
      sync(fn())
  best = {name: float("inf") for name in fns}
  for _ in range(repeats):
    for name, fn in fns.items():
      start = time.perf_counter()
      sync(fn())
      best[name] = min(best[name], time.perf_counter() - start)
  return best


# ---- the machine's peak ------------------------------------------------------------------------------------

def measure_peak(quick: bool, repeats: int) -> dict:
  """GFLOP/s of a fixed float32 matmul and a fixed 3x3 convolution (best of `repeats`); the peak is the larger.

  matmul [n, n] x [n, n] (n = 2048; 1024 with --quick): 2 n^3 FLOPs.
  conv 3x3, SAME, [8, 64, 64, 128] -> 128 channels (4 images with --quick): 2 * 8*64*64 * 9*128*128 FLOPs.
  """
  n = 1024 if quick else 2048
  images = 4 if quick else 8
  a = tf.random.normal([n, n], seed=1)
  b = tf.random.normal([n, n], seed=2)
  x = tf.random.normal([images, 64, 64, 128], seed=3)
  k = tf.random.normal([3, 3, 128, 128], seed=4)
  matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
  conv = tf.function(lambda: tf.reduce_sum(tf.nn.conv2d(x, k, 1, "SAME")))
  times = best_times({"matmul": matmul, "conv": conv}, repeats)
  flops = {"matmul": 2 * n ** 3, "conv": 2 * images * 64 * 64 * 9 * 128 * 128}
  rates = {name: flops[name] / times[name] / 1e9 for name in flops}
  return {"matmul_gflops": rates["matmul"], "conv_gflops": rates["conv"],
          "peak_gflops": max(rates.values()), "matmul_n": n, "conv_images": images}


# ---- environment -------------------------------------------------------------------------------------------

def _cpu_model():
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def _memory_gib():
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemTotal"):
          return round(int(line.split()[1]) * 1024 / GIB, 1)
  except OSError:
    pass
  return None


def _git_commit():
  try:
    return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          check=False).stdout.strip() or None
  except OSError:
    return None


def load_average():
  try:
    return [round(x, 2) for x in os.getloadavg()]
  except OSError:
    return None


def environment() -> dict:
  """Machine, TensorFlow / Keras versions, oneDNN and thread settings, time and commit of the run."""
  onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
  enabled = onednn_enabled()
  return {
      "date": datetime.datetime.now().isoformat(timespec="seconds"),
      "commit": _git_commit(),
      "machine": {"cpu": _cpu_model(), "cpus": os.cpu_count(), "memory_gib": _memory_gib(),
                  "platform": platform.platform(), "python": platform.python_version()},
      "tensorflow": tf.__version__, "keras": keras.__version__,
      "onednn": ({True: "on", False: "off", None: "unknown"}[enabled] +
                 f" (TF_ENABLE_ONEDNN_OPTS={onednn if onednn is not None else 'unset'})"),
      "threads": {"inter_op": tf.config.threading.get_inter_op_parallelism_threads() or "default (0)",
                  "intra_op": tf.config.threading.get_intra_op_parallelism_threads() or "default (0)",
                  "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
      "logical_cpu_devices": len(tf.config.list_logical_devices("CPU")),
  }


# ---- child processes (peak memory) -------------------------------------------------------------------------

def _status(field):
  """A /proc/self/status field in bytes (VmRSS, VmHWM), or None off Linux."""
  try:
    with open("/proc/self/status") as f:
      for line in f:
        if line.startswith(field + ":"):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return None


def reset_peak_rss():
  """Resets this process's peak resident set (VmHWM) to its current size (Linux: clear_refs 5)."""
  try:
    with open("/proc/self/clear_refs", "w") as f:
      f.write("5")
    return True
  except OSError:
    return False


def release_free_memory():
  """Returns the C heap's free pages to the OS (glibc malloc_trim), so that the resident set is what is in use:
  without it the memory a previous step freed stays resident and hides the next step's peak."""
  try:
    ctypes.CDLL("libc.so.6").malloc_trim(0)
  except (OSError, AttributeError):
    pass


def measure_peak_of(fn):
  """(result, peak resident bytes while `fn()` ran, resident bytes before): frees the heap's unused pages,
  resets VmHWM, runs, reads it."""
  release_free_memory()
  before = _status("VmRSS")
  reset_peak_rss()
  result = fn()
  return result, _status("VmHWM"), before


def run_child(task: dict, memory_limit_gib: float, timeout: float, log=print, first_path=None,
              env=None) -> dict:
  """Runs `python benchmarks/run_all.py --child=<task json>` with an address-space limit and returns the JSON
  the child prints on its last `RESULT ` line; {"error": ...} if it failed (e.g. the memory limit hit).
  `first_path`: a folder put first on PYTHONPATH (an older checkout whose `dvd_gan` the child then uses).
  `env`: variables set in the child's environment (e.g. THREAD_VARIABLES)."""
  cmd = [sys.executable, os.path.join(ROOT, "benchmarks", "run_all.py"), "--child=" + json.dumps(task)]
  limit = int(memory_limit_gib * GIB)

  def set_limit():
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

  start = time.perf_counter()
  try:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=set_limit,
                          env={**_child_env(first_path), **(env or {})}, check=False)
  except subprocess.TimeoutExpired:
    return {"error": f"timeout after {timeout:.0f} s"}
  seconds = time.perf_counter() - start
  for line in reversed(proc.stdout.splitlines()):
    if line.startswith("RESULT "):
      out = json.loads(line[len("RESULT "):])
      out["child_seconds"] = round(seconds, 1)
      return out
  tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
  log(f"  child {task.get('kind')} failed (exit {proc.returncode}): {tail[-300:]}")
  return {"error": f"exit {proc.returncode}: {tail[-200:]}"}


def _child_env(first_path):
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
  paths = [p for p in (first_path, ROOT) if p] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
  env["PYTHONPATH"] = os.pathsep.join(paths)
  return env


# ---- table -------------------------------------------------------------------------------------------------

def row(section, figure, value, unit="", target=None, passed=None, note=""):
  """One line of the table: a figure (a ratio or a rate), its target and PASS / MISS (None: no target)."""
  return {"section": section, "figure": figure, "value": value, "unit": unit, "target": target,
          "status": None if passed is None else ("PASS" if passed else "MISS"), "note": note}


def fmt(value):
  if value is None:
    return "n/a"
  if isinstance(value, float):
    if abs(value) >= 100:
      return f"{value:.0f}"
    if abs(value) >= 10:
      return f"{value:.1f}"
    return f"{value:.3g}"
  return str(value)


def print_table(rows, out=sys.stdout):
  header = ("section", "figure", "value", "target", "status", "note")
  lines = [(r["section"], r["figure"], f"{fmt(r['value'])} {r['unit']}".strip(), r["target"] or "",
            r["status"] or "", r["note"]) for r in rows]
  widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
  widths[-1] = min(widths[-1], 60)
  fmt_line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
  print(fmt_line(header), file=out)
  print("-" * (sum(widths) + 2 * (len(widths) - 1)), file=out)
  for line in lines:
    print(fmt_line(line), file=out)


# ---- profile -----------------------------------------------------------------------------------------------

def profile_ops(fn, steps: int = 3, top: int = 12) -> dict:
  """Where the time of `fn()` goes: TensorFlow's profiler traces `steps` calls; returns the kernel time per op
  type (summed over the executor threads, ms per call), the number of kernels per call and the wall time.

  Reads the trace's XPlane protobuf directly (no TensorBoard plugin needed).
  """
  folder = tempfile.mkdtemp(prefix="dvd_gan_profile_")
  try:
    tf.profiler.experimental.start(folder)
    start = time.perf_counter()
    for _ in range(steps):
      sync(fn())
    wall = (time.perf_counter() - start) / steps
    tf.profiler.experimental.stop()
    files = glob.glob(os.path.join(folder, "**", "*.xplane.pb"), recursive=True)
    space = xplane_pb2.XSpace()
    with open(files[0], "rb") as f:
      space.ParseFromString(f.read())
  finally:
    shutil.rmtree(folder, ignore_errors=True)
  time_ps, count = collections.Counter(), collections.Counter()
  for plane in space.planes:
    if not plane.name.startswith("/host:CPU"):
      continue
    for line in plane.lines:
      if not line.name.startswith("tf_Compute") and not line.name.startswith("tf_numa"):
        continue
      for event in line.events:
        name = plane.event_metadata[event.metadata_id].name
        if name in ("Process", "FunctionRun", "Start", "Run") or name.startswith("__inference"):
          continue  # umbrella events that contain the kernels
        time_ps[name] += event.duration_ps
        count[name] += 1
  total = sum(time_ps.values())
  return {"wall_ms": wall * 1e3, "kernel_ms": total / 1e9 / steps, "kernels": sum(count.values()) // steps,
          "top": {k: {"ms": round(v / 1e9 / steps, 2), "n": count[k] // steps}
                  for k, v in time_ps.most_common(top)}}
