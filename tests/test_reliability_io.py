"""Fault injection on what the project reads and serves: damaged .npz files, a SavedModel asked for too much,
and a Kinetics build whose decoder workers crash or hang.

Each test damages one thing and checks the documented outcome (docs/reliability.md): a one-line error that
names the file, a refusal before any allocation, or a clip counted as unreadable while the build goes on.
The serving tests share one export of a tiny generator (building it and the first call of each signature are
most of their time: slow), and the main-guard test runs a script whose workers import TensorFlow (slow).
"""
import csv
import importlib
import json
import os
import pickle
import subprocess
import sys
import time
import zipfile

import av
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from dvd_gan import export as export_lib
from dvd_gan import sample as sample_cmd
from dvd_gan.config import base_config
from dvd_gan.data import kinetics600
from dvd_gan.models import build
from dvd_gan.training import checkpointing
from eval import cli, npz, video_io, video_writer
from eval.errors import EvalError
from eval.stats import FeatureStats
from eval.weights import files as weight_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---- damaged .npz files --------------------------------------------------------------------------------

def _io_stats(path, n=6, d=5, store_features=False):
  """Writes a statistics file of n random features [n, d] (metadata of I3D logits, 6 frames)."""
  stats = FeatureStats(store_features=store_features,
                       metadata={"network": "i3d-kinetics-400", "layer": "logits", "frames": 6})
  stats.append(np.random.default_rng(0).normal(size=(n, d)))
  stats.save(str(path))
  return str(path)


def _io_videos(path):
  np.savez(path, a=np.zeros([2, 4, 8, 8, 3], np.uint8))
  return str(path)


def _io_weights(path):
  np.savez(path, **{"conv/w": np.ones([3, 3], np.float32), "conv/b": np.zeros([3], np.float32)})
  return str(path)


def _io_truncate(path, keep=0.6):
  data = open(path, "rb").read()
  with open(path, "wb") as f:
    f.write(data[:int(len(data) * keep)])
  return path


def _io_flip_member_bit(path, member):
  """Flips one bit inside the stored (uncompressed) data of `member`: the zip directory stays intact, only
  the member's CRC-32 no longer matches."""
  with zipfile.ZipFile(path) as z:
    info = z.getinfo(member)
  data = bytearray(open(path, "rb").read())
  name_len, extra_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
      int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
  start = info.header_offset + 30 + name_len + extra_len
  data[start + info.compress_size - 1] ^= 0x01  # the last byte: array data, past the .npy header
  with open(path, "wb") as f:
    f.write(bytes(data))
  return path


def _io_readers():
  """{kind: (writer, reader)}: every reader of .npz files the project has."""
  return {
      "stats": (_io_stats, FeatureStats.load),
      "features": (lambda p: _io_stats(p, store_features=True), FeatureStats.load),
      "videos": (_io_videos, lambda p: list(video_io.iter_videos(p))),
      "weights": (_io_weights, weight_files.load_npz),
  }


@pytest.mark.parametrize("kind", ["stats", "features", "videos", "weights"])
def test_truncated_npz_is_one_line_error_naming_the_file(tmp_path, kind):
  """A truncated .npz, read by each of the project's readers, is one EvalError line naming the file
  (not zipfile.BadZipFile); the intact file reads."""
  write, read = _io_readers()[kind]
  path = write(str(tmp_path / f"{kind}.npz"))
  read(path)
  _io_truncate(path)
  with pytest.raises(EvalError) as e:
    read(path)
  message = str(e.value)
  assert path in message and "\n" not in message and "truncated" in message


@pytest.mark.parametrize("kind", ["stats", "features", "videos", "weights"])
def test_bit_flipped_member_is_caught_at_load(tmp_path, kind):
  """One flipped bit in a member's data fails its CRC-32 inside the loader (every member is read there),
  as one EvalError line naming the file and the member, whichever member the caller would use."""
  write, read = _io_readers()[kind]
  path = write(str(tmp_path / f"{kind}.npz"))
  member = {"stats": "sum_outer.npy", "features": "features.npy", "videos": "a.npy", "weights": "conv/b.npy"}[kind]
  _io_flip_member_bit(path, member)
  with pytest.raises(EvalError) as e:
    read(path)
  message = str(e.value)
  assert path in message and member[:-4] in message and "CRC" in message and "\n" not in message


def test_foreign_files_are_one_line_errors(tmp_path):
  """Not a zip, a zip of text, a single .npy under an .npz name, and pickled object arrays: each is one
  EvalError line naming the file; no pickle is loaded."""
  cases = {}
  cases["text"] = tmp_path / "text.npz"
  cases["text"].write_text("hello, not an archive\n" * 10)
  cases["zip_of_text"] = tmp_path / "zip.npz"
  with zipfile.ZipFile(cases["zip_of_text"], "w") as z:
    z.writestr("readme.txt", "no arrays here")
  cases["npy"] = tmp_path / "single.npz"
  with open(cases["npy"], "wb") as f:
    np.save(f, np.zeros(3))
  cases["pickle"] = tmp_path / "pickle.npz"
  cases["pickle"].write_bytes(pickle.dumps({"a": 1}))
  cases["object_array"] = tmp_path / "objects.npz"
  np.savez(cases["object_array"], a=np.array([{"x": 1}, None], dtype=object))
  for name, path in cases.items():
    with pytest.raises(EvalError) as e:
      npz.load(str(path))
    assert str(path) in str(e.value) and "\n" not in str(e.value), name
  with pytest.raises(EvalError, match="not a numpy array"):
    npz.load(str(cases["zip_of_text"]))
  with pytest.raises(EvalError, match="allow_pickle"):
    npz.load(str(cases["object_array"]))


def test_cli_truncated_stats_file_exit_2_one_error_line(tmp_path, capsys):
  """`python -m eval fvd` (eval.cli.main, in-process: the same code path without a second TensorFlow start)
  with a truncated statistics file ends with exit status 2 and one `error:` line naming the file."""
  real = _io_truncate(_io_stats(tmp_path / "real.npz"))
  fake = _io_stats(tmp_path / "fake.npz")
  status = cli.main(["eval", "fvd", f"--real={real}", f"--fake={fake}"])
  err = capsys.readouterr().err
  assert status == 2, err
  assert len(err.splitlines()) == 1 and err.startswith("error: ") and real in err, err


# ---- serving bounds of an export -----------------------------------------------------------------------

_IO_MAX_BATCH, _IO_MAX_LATENTS, _IO_Z_DIM = 4, 16, 8


@pytest.fixture(scope="module")
def _io_export(tmp_path_factory):
  """An export (`python -m dvd_gan.export --max_batch_size=4 --max_latents=16`, in-process) of a tiny
  4-frame 16x16 class-conditional generator with random weights, its checkpoint written directly."""
  workdir = tmp_path_factory.mktemp("io_run") / "run"
  (workdir / "checkpoints").mkdir(parents=True)
  c = base_config()
  c.num_frames, c.resolution, c.num_classes, c.batch_size = 4, 16, 8, 4
  m = c.model
  m.z_dim, m.embed_dim = _IO_Z_DIM, 8
  m.g_ch, m.g_multipliers, m.g_blocks_per_stage = 4, (4, 2, 1), 1
  m.d_ch, m.ds_multipliers, m.dt_multipliers, m.ds_k, m.dt_num_3d_blocks = 4, (1, 2), (1, 2), 2, 1
  c.data.name, c.data.stride = "synthetic", 1
  (workdir / "config.json").write_text(json.dumps(c.to_dict()))
  with build.fast_init("normal", stddev=0.3, seed=3):
    g = build.make_models(c)[0]
    g(tf.zeros([1, _IO_Z_DIM]), tf.zeros([1], tf.int32), training=False)
  ckpt = tf.train.Checkpoint(G_ema=checkpointing.model_variables(g), step=tf.Variable(1, dtype=tf.int64))
  tf.train.CheckpointManager(ckpt, str(workdir / "checkpoints"), max_to_keep=1).save()
  out = str(tmp_path_factory.mktemp("io_export") / "export")
  assert export_lib.main(["export", f"--workdir={workdir}", f"--out={out}", f"--max_batch_size={_IO_MAX_BATCH}",
                          f"--max_latents={_IO_MAX_LATENTS}"]) == 0
  return out


@pytest.fixture(scope="module")
def _io_signatures(_io_export):
  """The loaded export's signatures, each called once with a valid batch (its first call builds the function,
  seconds of graph optimisation that a refusal must not be charged for); returns (loaded, signatures)."""
  loaded = tf.saved_model.load(_io_export)
  sigs = loaded.signatures
  z, y, seed, t = tf.zeros([2, _IO_Z_DIM]), tf.constant([1, 2]), tf.constant(0, tf.int64), tf.constant(1.0)
  outputs = [sigs["sample"](z=z, y=y), sigs["sample_mixed"](z=z, y0=y, y1=y, alpha=tf.zeros([2])),
             sigs["sample_random_labels"](y=y, seed=seed, truncation=t),
             sigs["latents"](batch_size=tf.constant(2), seed=seed, truncation=t, truncation_mode=tf.constant("scale"))]
  for name in ("sample_random", "serving_default"):
    outputs.append(sigs[name](batch_size=tf.constant(_IO_MAX_BATCH), seed=seed, truncation=t))
  assert outputs[-1]["video"].shape[0] == _IO_MAX_BATCH  # the maximum itself is served
  assert all(np.isfinite(v.numpy()).all() for out in outputs for v in out.values() if v.dtype.is_floating)
  return loaded, sigs


def _io_call_refused(fn, match, **inputs):
  """Calls fn(**inputs), expecting InvalidArgumentError matching `match`; returns the seconds it took."""
  start = time.perf_counter()
  with pytest.raises(tf.errors.InvalidArgumentError, match=match):
    fn(**inputs)
  return time.perf_counter() - start


@pytest.mark.slow  # with the export fixture: see the module docstring
def test_export_refuses_batches_over_its_maximum_before_allocating(_io_export, _io_signatures):
  """The export records max_batch_size / max_latents (constants and export_meta.json); sample_random for 2**30
  videos, latents for 2**30 rows, and sample / sample_random_labels / sample_mixed one row over the maximum are
  refused with InvalidArgumentError naming the bound, each in well under a second (2**30 videos of 4x16x16x3
  floats would be 3 TB: nothing of the batch's size is allocated). The maximum itself is served."""
  with open(os.path.join(_io_export, "export_meta.json")) as f:
    meta = json.load(f)
  assert (meta["max_batch_size"], meta["max_latents"]) == (_IO_MAX_BATCH, _IO_MAX_LATENTS)
  loaded, sigs = _io_signatures
  assert (int(loaded.max_batch_size), int(loaded.max_latents)) == (_IO_MAX_BATCH, _IO_MAX_LATENTS)
  scalars = dict(seed=tf.constant(1, tf.int64), truncation=tf.constant(1.0))
  n = _IO_MAX_BATCH + 1
  z, y = tf.zeros([n, _IO_Z_DIM]), tf.zeros([n], tf.int32)
  seconds = [
      _io_call_refused(sigs["sample_random"], "max_batch_size", batch_size=tf.constant(2 ** 30), **scalars),
      _io_call_refused(sigs["serving_default"], "max_batch_size", batch_size=tf.constant(2 ** 30), **scalars),
      _io_call_refused(sigs["latents"], "max_latents", batch_size=tf.constant(2 ** 30),
                       truncation_mode=tf.constant("scale"), **scalars),
      _io_call_refused(sigs["sample"], "max_batch_size", z=z, y=y),
      _io_call_refused(sigs["sample_random_labels"], "max_batch_size", y=y, **scalars),
      _io_call_refused(sigs["sample_mixed"], "max_batch_size", z=z, y0=y, y1=y, alpha=tf.zeros([n])),
  ]
  assert max(seconds) < 0.5, seconds


@pytest.mark.slow  # with the export fixture: see the module docstring
def test_export_refuses_non_finite_inputs(_io_signatures):
  """A NaN or inf in z (sample, sample_mixed), alpha (sample_mixed) or truncation (sample_random, latents,
  sample_random_labels) is an InvalidArgumentError naming the input, never a NaN video."""
  _, sigs = _io_signatures
  y = tf.constant([1, 2], tf.int32)
  good_z = tf.zeros([2, _IO_Z_DIM])
  bad_z = tf.tensor_scatter_nd_update(good_z, [[1, 3]], [float("nan")])
  seed = tf.constant(0, tf.int64)
  _io_call_refused(sigs["sample"], "z must be finite", z=bad_z, y=y)
  _io_call_refused(sigs["sample"], "z must be finite", z=tf.tensor_scatter_nd_update(good_z, [[0, 0]], [float("inf")]),
                   y=y)
  _io_call_refused(sigs["sample_mixed"], "z must be finite", z=bad_z, y0=y, y1=y, alpha=tf.zeros([2]))
  _io_call_refused(sigs["sample_mixed"], "alpha must be finite", z=good_z, y0=y, y1=y,
                   alpha=tf.constant([0.5, float("inf")]))
  for bad in (float("nan"), float("inf")):
    t = tf.constant(bad)
    _io_call_refused(sigs["sample_random"], "truncation must be finite", batch_size=tf.constant(2), seed=seed,
                     truncation=t)
    _io_call_refused(sigs["sample_random_labels"], "truncation must be finite", y=y, seed=seed, truncation=t)
    _io_call_refused(sigs["latents"], "truncation must be finite", batch_size=tf.constant(2), seed=seed,
                     truncation=t, truncation_mode=tf.constant("resample"))


@pytest.mark.slow  # with the export fixture: see the module docstring
def test_sample_command_batches_requests_to_the_maximum(_io_export, _io_signatures, tmp_path, capsys):
  """`python -m dvd_gan.sample --saved_model` asking for more videos per call than the export serves
  (--batch_size=16 > 4; 2 classes x 3 = 6 videos) runs them in batches of the maximum and writes them all,
  equal to the export's own sample() of the same latents; more latents in one draw than max_latents is one
  `error:` line, exit status 2."""
  out = tmp_path / "out"
  assert sample_cmd.main(["sample", f"--saved_model={_io_export}", "--classes=1,2", "--num=3", "--format=npy",
                          "--seed=5", "--truncation=1", "--batch_size=16", "--noprogress", f"--out={out}"]) == 0
  videos = np.load(out / "videos.npy")
  _, sigs = _io_signatures
  z = sigs["latents"](batch_size=tf.constant(3), seed=tf.constant(5, tf.int64), truncation=tf.constant(1.0),
                      truncation_mode=tf.constant("scale"))["z"].numpy()
  zz, y = np.tile(z, [2, 1]), np.repeat(np.array([1, 2], np.int32), 3)
  expected = np.concatenate([sigs["sample"](z=zz[s], y=y[s])["video"].numpy() for s in (slice(0, 4), slice(4, 6))])
  np.testing.assert_array_equal(videos, video_writer.to_uint8(expected))
  capsys.readouterr()
  assert sample_cmd.main(["sample", f"--saved_model={_io_export}", f"--num={_IO_MAX_LATENTS + 1}",
                          "--noprogress", f"--out={tmp_path / 'many'}"]) == 2
  err = capsys.readouterr().err
  assert len(err.splitlines()) == 1 and err.startswith("error: ") and "max_latents" in err, err


# ---- the Kinetics-600 builder: crashing and hanging decoders, bad annotations, no main guard ---------------

_IO_CLIPS = [  # (youtube_id, label): decoded by _IO_FAULTY_DECODER by name prefix
    ("goodgood001", "zumba"), ("crashcrash1", "zumba"), ("goodgood002", "abseiling"),
    ("hanghanghan", "abseiling"), ("goodgood003", "zumba"), ("goodgood004", "abseiling"),
]
_IO_FAULTY_DECODER = '''
import os
import time

from dvd_gan.data import clips


def load_clip(path, size, min_frames, jpeg_quality=90):
  name = os.path.basename(path or "")
  if name.startswith("crash"):
    os._exit(9)  # as a segfault in the decoder: the worker process dies without a word
  if name.startswith("hang"):
    time.sleep(3600)
  return clips.load_clip(path, size, min_frames, jpeg_quality)
'''


def _io_kinetics_manual_dir(root):
  """Tiny mp4 clips (16 frames, 32x32) of _IO_CLIPS, and a train.csv that also has a row with a blank
  time_start."""
  root.mkdir()
  rng = np.random.default_rng(0)
  for i, (yid, _) in enumerate(_IO_CLIPS):
    with av.open(str(root / f"{yid}_000000_000010.mp4"), mode="w") as container:
      stream = container.add_stream("mpeg4", rate=8)
      stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
      base = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
      for t in range(16):
        for packet in stream.encode(av.VideoFrame.from_ndarray(np.roll(base, t + i, axis=1), format="rgb24")):
          container.mux(packet)
      for packet in stream.encode():
        container.mux(packet)
  with open(root / "train.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
    writer.writerows([label, yid, 0, 10, "train"] for yid, label in _IO_CLIPS)
    writer.writerow(["zumba", "blankstart1", "", 10, "train"])
  return str(root)


def test_kinetics_build_survives_crashing_and_hanging_decoders(tmp_path, monkeypatch):
  """With 2 worker processes: a clip whose decoder kills its worker (os._exit, as a segfault) and a clip that
  decodes past clip_timeout_s are each counted as unreadable, an annotation row with a blank time_start is
  counted as bad_annotation, and every other clip is written (the build goes on in new pools)."""
  manual = _io_kinetics_manual_dir(tmp_path / "manual")
  (tmp_path / "mods").mkdir()
  (tmp_path / "mods" / "_io_faulty_decoder.py").write_text(_IO_FAULTY_DECODER)
  monkeypatch.syspath_prepend(str(tmp_path / "mods"))  # spawned workers get the parent's sys.path
  faulty = importlib.import_module("_io_faulty_decoder")
  builder = kinetics600.Kinetics600(config="64", data_dir=str(tmp_path / "tfds"), num_workers=2,
                                    clip_timeout_s=4.0)
  builder._load_clip = faulty.load_clip
  start = time.perf_counter()
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))
  seconds = time.perf_counter() - start
  good = [yid for yid, _ in _IO_CLIPS if yid.startswith("good")]
  assert builder.info.splits["train"].num_examples == len(good)
  assert kinetics600.skip_counts(builder)["train"] == {"missing": 0, "unreadable": 2, "too_short": 0,
                                                      "unknown_label": 0, "bad_annotation": 1}
  reasons = {s["key"]: s["reason"] for s in builder.info.metadata["skipped_clips"]["train"]}
  assert reasons == {"crashcrash1_000000_000010": "unreadable", "hanghanghan_000000_000010": "unreadable",
                     "train.csv:8": "bad_annotation"}
  written = {ex["youtube_id"].decode() for ex in tfds.as_numpy(builder.as_dataset(split="train"))}
  assert written == set(good)
  assert seconds < 600  # the hanging decoder (an hour) was stopped


_IO_UNGUARDED_SCRIPT = '''
import tensorflow_datasets as tfds
from dvd_gan.data import kinetics600

builder = kinetics600.Kinetics600(config="64", data_dir={data_dir!r}, num_workers=2)
builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir={manual!r}))
print("built")
'''


@pytest.mark.slow  # a script and its 2 workers each import TensorFlow
def test_kinetics_build_without_main_guard_ends_with_one_line(tmp_path):
  """A script that calls download_and_prepare at its top level (no `if __name__ == "__main__":`), whose
  spawned workers re-run it, ends with one line (the last of stderr) saying what to add; the workers print
  nothing (no bootstrapping tracebacks) and nothing is built."""
  manual = _io_kinetics_manual_dir(tmp_path / "manual")
  script = tmp_path / "build_kinetics.py"
  script.write_text(_IO_UNGUARDED_SCRIPT.format(data_dir=str(tmp_path / "tfds"), manual=manual))
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]),
             TF_CPP_MIN_LOG_LEVEL="3")
  proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env,
                        cwd=str(tmp_path))
  last = proc.stderr.strip().splitlines()[-1]
  assert proc.returncode != 0 and "built" not in proc.stdout, proc.stderr
  assert 'if __name__ == "__main__":' in last and "UserError" in last, proc.stderr
  assert "bootstrapping" not in proc.stderr and proc.stderr.count("Traceback") == 1, proc.stderr
