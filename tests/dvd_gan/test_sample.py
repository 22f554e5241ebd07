"""Sampling for people: the export's sampling signatures, dvd_gan.sampling, the `dvd_gan.sample` command and
notebooks/sample.ipynb, on one tiny exported model (tests/generator_export.py: a 4-frame 16x16 generator with 8
synthetic classes and random weights, exported once per test process).
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from dvd_gan import export as export_lib
from dvd_gan import generators, random_streams
from dvd_gan import sample as sample_cmd
from dvd_gan import sampling
from dvd_gan.data import synthetic
from eval import video_io
from dvd_gan.errors import UserError
from tests.generator_export import C, RES, T, Z_DIM

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def run(tiny_generator_run):
  """(workdir, generator): tests/generator_export.py's run folder of a tiny random-weight generator."""
  return tiny_generator_run


@pytest.fixture(scope="module")
def export_dir(tiny_generator_export):
  return tiny_generator_export


@pytest.fixture(scope="module")
def model(export_dir):
  return sampling.load(saved_model=export_dir)


def _read(path):
  """Every video of a file, decoded by eval's reader (PyAV for mp4, Pillow for GIF, numpy for npy)."""
  return [np.asarray(v) for _, v in video_io.read_file(str(path))]


def _even(n):
  return n + n % 2


# ---- the export ------------------------------------------------------------------------------------------

def test_export_carries_constants_and_sampling_signatures(export_dir):
  """The loaded SavedModel exposes resolution, frames, classes, z size and class names as constants (no
  metadata file needed), the format version 3, and the signatures latents and sample_mixed."""
  loaded = tf.saved_model.load(export_dir)
  assert (int(loaded.resolution), int(loaded.num_frames), int(loaded.num_classes), int(loaded.z_dim)) == (
      RES, T, C, Z_DIM)
  assert [n.decode() for n in loaded.class_names.numpy()] == list(synthetic.CLASS_NAMES)
  assert int(loaded.format_version) == export_lib.FORMAT_VERSION == 3
  assert set(loaded.signatures) == {"sample", "sample_mixed", "latents", "sample_random",
                                    "sample_random_labels", "serving_default"}
  with open(os.path.join(export_dir, export_lib.META_FILE)) as f:
    assert json.load(f)["format_version"] == 3


def test_sample_mixed_mixes_the_class_embeddings(model, run):
  """sample_mixed: alpha 0 is sample(z, y0), alpha 1 is sample(z, y1), alpha 0.5 is G with the mean of the
  two embeddings (G rebuilt from the checkpoint in this process), different from both ends."""
  _, g = run
  z, _ = model.latents(3, seed=1, truncation=1.0)
  y0, y1 = np.array([0, 2, 5], np.int32), np.array([7, 3, 1], np.int32)
  ends = [model.sample_mixed(z, y0, y1, np.full([3], a, np.float32)) for a in (0.0, 1.0, 0.5)]
  np.testing.assert_allclose(ends[0], model.sample(z, y0), atol=1e-6, rtol=0)
  np.testing.assert_allclose(ends[1], model.sample(z, y1), atol=1e-6, rtol=0)
  e = 0.5 * (g.class_embedding(y0, training=False) + g.class_embedding(y1, training=False))
  expected = g.generate(g.conditioning(tf.constant(z), embedding=e), training=False).numpy()
  np.testing.assert_allclose(ends[2], expected, atol=1e-5, rtol=0)
  assert np.abs(ends[2] - ends[0]).max() > 1e-3 and np.abs(ends[2] - ends[1]).max() > 1e-3


def test_latents_scale_and_resample_truncation(model):
  """scale: z(t) = t z(1), the z and y sample_random draws for the same seed (random_streams.latents of key
  [seed, 0]), t = 0 gives 0. resample: no
  component above the threshold, the components of the untruncated draw already inside it are kept, the
  same seed gives the same z; also at a threshold so small that the rejection rounds run out (0.05)."""
  z1, y1 = model.latents(6, seed=4, truncation=1.0)
  z44, y44 = model.latents(6, seed=4, truncation=0.44)
  np.testing.assert_allclose(z44, 0.44 * z1, rtol=1e-6)
  np.testing.assert_array_equal(y44, y1)
  assert np.all(model.latents(6, seed=4, truncation=0.0)[0] == 0)
  z_ref, y_ref = random_streams.latents(tf.constant([4, 0], tf.int64), 6, Z_DIM, C, truncation=tf.constant(0.44))
  np.testing.assert_array_equal(z_ref.numpy(), z44)
  np.testing.assert_array_equal(y_ref.numpy(), y44)
  big, _ = model.latents(64, seed=4, truncation=1.0)
  for t in (0.5, 0.05):
    zr, yr = model.latents(64, seed=4, truncation=t, mode="resample")
    assert np.abs(zr).max() <= t
    inside = np.abs(big) <= t
    assert 0 < inside.sum() < inside.size
    np.testing.assert_array_equal(zr[inside], big[inside])
    assert np.all(zr[~inside] != big[~inside])
    np.testing.assert_array_equal(zr, model.latents(64, seed=4, truncation=t, mode="resample")[0])
  assert not np.array_equal(model.latents(64, seed=5, truncation=0.5, mode="resample")[0],
                            model.latents(64, seed=4, truncation=0.5, mode="resample")[0])


_Z = np.zeros([2, Z_DIM], np.float32)
_BAD_INPUTS = [
    ("sample", dict(z=_Z, y=np.array([0, 8], np.int32)), "y must be < 8"),
    ("sample", dict(z=_Z, y=np.array([-1, 0], np.int32)), "y must be >= 0"),
    ("sample", dict(z=_Z, y=np.array([0], np.int32)), "y must have one label per row of z"),
    ("sample_mixed", dict(z=_Z, y0=np.array([0, 1], np.int32), y1=np.array([9, 1], np.int32),
                          alpha=np.zeros([2], np.float32)), "y1 must be < 8"),
    ("sample_mixed", dict(z=_Z, y0=np.array([0, 1], np.int32), y1=np.array([0, 1], np.int32),
                          alpha=np.zeros([3], np.float32)), "alpha must have one value per row of z"),
    ("latents", dict(batch_size=np.int32(0), seed=np.int64(0), truncation=np.float32(1),
                     truncation_mode="scale"), "batch_size must be >= 1"),
    ("latents", dict(batch_size=np.int32(2), seed=np.int64(0), truncation=np.float32(-1),
                     truncation_mode="scale"), "truncation must be >= 0"),
    ("latents", dict(batch_size=np.int32(2), seed=np.int64(0), truncation=np.float32(0),
                     truncation_mode="resample"), "truncation must be > 0 with truncation_mode resample"),
    ("latents", dict(batch_size=np.int32(2), seed=np.int64(0), truncation=np.float32(1),
                     truncation_mode="clip"), "truncation_mode must be scale or resample"),
]


def test_bad_serving_inputs_raise_with_their_message(model):
  """Each bad input of the served signatures raises InvalidArgumentError carrying its own message."""
  sigs = model.keep_alive.signatures  # the loaded SavedModel's
  for name, kwargs, message in _BAD_INPUTS:
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
      sigs[name](**{k: tf.constant(v) for k, v in kwargs.items()})


def _ops(graph_def_functions, graph):
  """Op types of a graph, and {function name: op types} of the XLA-compiled functions it calls."""
  compiled = {f.signature.name: {n.op for n in f.node_def} for f in graph_def_functions
              if f.attr["_XlaMustCompile"].b}
  return {op.type for op in graph.get_operations()}, compiled


def test_input_checks_run_outside_the_xla_compiled_generator(run):
  """With xla=True only the generator's function is XLA-compiled (XLA drops Assert ops): the signatures'
  graphs hold the Assert ops, the compiled function none, and a bad label still raises its message."""
  sampler = generators.Sampler(run[1], list(synthetic.CLASS_NAMES), xla=True)
  sigs = sampler.signatures()
  for name in ("sample", "sample_mixed", "latents"):
    fn = sigs[name]
    outer, compiled = _ops(fn.graph.as_graph_def().library.function, fn.graph)
    assert "Assert" in outer, name
    if name != "latents":
      assert len(compiled) == 1, (name, compiled)
      assert not any("Assert" in ops for ops in compiled.values()), name
  with pytest.raises(tf.errors.InvalidArgumentError, match="y must be < 8"):
    sigs["sample"](z=tf.zeros([2, Z_DIM]), y=tf.constant([1, 8]))
  with pytest.raises(tf.errors.InvalidArgumentError, match="y0 must be >= 0"):
    sigs["sample_mixed"](z=tf.zeros([1, Z_DIM]), y0=tf.constant([-3]), y1=tf.constant([1]),
                         alpha=tf.constant([0.5]))


# ---- dvd_gan.sampling ------------------------------------------------------------------------------------

def test_interpolation_endpoints_equal_the_plain_samples(model):
  """Latent interpolation from z_0 to z_1 at class 3 starts at the plain sample 0 and ends at the plain
  sample 1 of class 3 (same seed); class interpolation 3 -> 6 at z_j starts at class 3's and ends at class
  6's video j; the steps in between differ from both ends."""
  plain = sampling.class_samples(model, [3, 6], 2, seed=5, truncation=0.7).videos  # [2 classes, 2, ...]
  lat = sampling.latent_interpolation(model, [3], num=1, steps=4, seed=5, truncation=0.7)
  assert lat.videos.shape == (1, 4, T, RES, RES, 3) and lat.labels == [3]
  np.testing.assert_allclose(lat.videos[0, 0], plain[0, 0], atol=1e-5, rtol=0)
  np.testing.assert_allclose(lat.videos[0, -1], plain[0, 1], atol=1e-5, rtol=0)
  assert np.abs(lat.videos[0, 1] - plain[0, 0]).max() > 1e-3
  cls = sampling.class_interpolation(model, "square-up,bar-down", num=2, steps=3, seed=5, truncation=0.7)
  assert cls.videos.shape == (2, 3, T, RES, RES, 3) and cls.labels == [(3, 6), (3, 6)]
  for j in range(2):
    np.testing.assert_allclose(cls.videos[j, 0], plain[0, j], atol=1e-5, rtol=0)
    np.testing.assert_allclose(cls.videos[j, -1], plain[1, j], atol=1e-5, rtol=0)
  assert np.abs(cls.videos[0, 1] - plain[0, 0]).max() > 1e-3


def test_classes_by_id_name_or_all(model):
  """--classes accepts ids, names and 'all'; unknown names and out-of-range ids are one-line errors."""
  assert model.resolve_classes("all") == list(range(C))
  assert model.resolve_classes("3, bar-up,0") == [3, 7, 0]
  with pytest.raises(UserError, match="unknown class name 'circle'.*square-right"):
    model.resolve_classes("circle")
  with pytest.raises(UserError, match="class 8 is out of range"):
    model.resolve_classes("8")


# ---- the command (in-process) ----------------------------------------------------------------------------

# Pairwise coverage of format x classes x grid x truncation mode x interpolation (every pair of values of
# two flags appears in some row; class interpolation needs classes).
_PAIRWISE = [
    ("mp4", None, True, "scale", None),
    ("gif", "1,bar-up", False, "resample", None),
    ("npy", "all", True, "scale", None),
    ("mp4", "1,bar-up", True, "resample", "latent"),
    ("gif", None, True, "scale", "latent"),
    ("npy", "1,bar-up", False, "scale", "class"),
    ("mp4", "all", False, "resample", "class"),
    ("npy", None, False, "resample", "latent"),
    ("gif", "all", True, "resample", "class"),
    ("mp4", "all", True, "scale", "latent"),
]
NUM, STEPS = 2, 3


@pytest.fixture
def run_cmd(model, export_dir, monkeypatch):
  """Runs the command in-process on the export; the SavedModel loaded once by the `model` fixture is reused
  (loading it and the first call of each signature take seconds; the subprocess test loads it for real)."""
  real_load = sampling.load_saved_model
  monkeypatch.setattr(sampling, "load_saved_model", lambda p: model if p == export_dir else real_load(p))

  def run(out, *flags):
    return sample_cmd.main(["dvd_gan.sample", f"--saved_model={export_dir}", f"--out={out}",
                            "--progress=false", *flags])
  return run


def _expected_video_shape(fmt, frames_shape):
  t, h, w = frames_shape
  return (t, _even(h), _even(w), 3) if fmt == "mp4" else (t, h, w, 3)


@pytest.mark.parametrize("fmt,classes,grid,mode,interpolate", _PAIRWISE)
def test_command_writes_decodable_files(run_cmd, tmp_path, fmt, classes, grid, mode, interpolate):
  """Every file the command lists in samples.json exists and nothing else; videos decode (PyAV / Pillow /
  numpy) to T frames of the right size; the grid has a row per class; interpolation videos have a row per
  step and frame strips a row per step and a column per frame."""
  out = tmp_path / "out"
  flags = [f"--format={fmt}", f"--truncation_mode={mode}", f"--num={NUM}", "--truncation=0.8", "--seed=2"]
  flags += [f"--classes={classes}"] if classes else []
  flags += ["--grid"] if grid else []
  flags += [f"--interpolate={interpolate}", f"--steps={STEPS}"] if interpolate else []
  assert run_cmd(out, *flags) == 0
  meta = json.loads((out / "samples.json").read_text())
  listed = {f["file"] for f in meta["files"]}
  assert sorted(os.listdir(out)) == sorted(listed | {"samples.json"})
  n_classes = {None: 0, "1,bar-up": 2, "all": C}[classes]
  pad = RES + 1
  if interpolate:
    n_paths = (n_classes - 1) * NUM if interpolate == "class" else max(n_classes, 1) * NUM
    videos = sorted(f for f in listed if f.startswith("interpolation_") and f.endswith(f".{fmt}"))
    strips = sorted(f for f in listed if f.startswith("interpolation_") and f.endswith(".png"))
    assert len(videos) == len(strips) == n_paths
    for name in videos:
      if fmt == "npy":  # the steps of one path: [K, T, H, W, 3]
        assert np.load(out / name).shape == (STEPS, T, RES, RES, 3)
      else:
        assert [v.shape for v in _read(out / name)] == [_expected_video_shape(fmt, (T, STEPS * pad - 1, RES))]
    assert Image.open(out / strips[0]).size == (T * pad - 1, STEPS * pad - 1)
    grid_shape = (T, STEPS * pad - 1, n_paths * pad - 1)
  else:
    n_videos = NUM * n_classes if classes else NUM
    if fmt == "npy":
      assert _read(out / "videos.npy")[0].shape == (T, RES, RES, 3)
      assert len(_read(out / "videos.npy")) == n_videos
    else:
      files = sorted(f for f in listed if f[:4].isdigit())
      assert len(files) == n_videos
      for name in files:
        assert [v.shape for v in _read(out / name)] == [_expected_video_shape(fmt, (T, RES, RES))], name
      if classes == "1,bar-up":
        assert files[0].startswith("0000_c001_square-left") and files[-1].startswith("0003_c007_bar-up")
    rows, columns = (n_classes, NUM) if classes else (1, NUM)
    grid_shape = (T, rows * pad - 1, columns * pad - 1)
  if grid:
    (g,) = _read(out / f"grid.{fmt}")
    assert g.shape == _expected_video_shape(fmt, grid_shape)
  else:
    assert not (out / f"grid.{fmt}").exists()
  assert meta["truncation_mode"] == mode and meta["seed"] == 2 and meta["num_frames"] == T


def test_same_seed_same_frames_and_grid_rows_are_classes(run_cmd, tmp_path):
  """The same seed writes identical frames, another seed other frames; the grid's row r is class r's
  videos, left to right (read from the exact npy output)."""
  flags = ["--format=npy", "--classes=2,5,7", "--num=2", "--grid"]
  assert run_cmd(tmp_path / "a", "--seed=3", *flags) == 0
  assert run_cmd(tmp_path / "b", "--seed=3", *flags) == 0
  assert run_cmd(tmp_path / "c", "--seed=4", *flags) == 0
  a, b, c = (np.load(tmp_path / d / "videos.npy") for d in "abc")
  assert a.shape == (6, T, RES, RES, 3) and a.dtype == np.uint8
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  grid = np.load(tmp_path / "a" / "grid.npy")
  assert grid.shape == (T, 3 * (RES + 1) - 1, 2 * (RES + 1) - 1, 3)
  for row in range(3):
    for col in range(2):
      tile = grid[:, row * (RES + 1):row * (RES + 1) + RES, col * (RES + 1):col * (RES + 1) + RES]
      np.testing.assert_array_equal(tile, a[row * 2 + col])
  info = json.loads((tmp_path / "a" / "samples.json").read_text())["files"][0]["videos"]
  assert [v["class"] for v in info] == [2, 2, 5, 5, 7, 7] and info[2]["class_name"] == synthetic.CLASS_NAMES[5]


@pytest.mark.parametrize("flags,message", [
    (["--classes=circle"], "unknown class name 'circle'"),
    (["--classes=9"], "class 9 is out of range"),
    (["--interpolate=class", "--classes=3"], "at least two classes"),
    (["--interpolate=class"], "--interpolate=class needs --classes"),
    (["--truncation_mode=resample", "--truncation=0"], "must be > 0"),
    (["--workdir=/nonexistent"], "exactly one of --workdir"),
    (["--steps=1", "--interpolate=latent"], "--steps"),
])
def test_command_errors_are_one_line(run_cmd, tmp_path, capsys, flags, message):
  """Bad flags, classes and sources: exit 2, one `error:` line naming the problem, no output written."""
  assert run_cmd(tmp_path / "out", *flags) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
  assert not (tmp_path / "out").exists()


def test_command_writes_to_any_filesystem(run_cmd):
  """--out on a TensorFlow filesystem (ram://, as gs://) receives the files through eval.io."""
  out = "ram://sample_test/out"
  assert run_cmd(out, "--format=gif", "--num=1", "--classes=0", "--grid") == 0
  assert sorted(tf.io.gfile.listdir(out)) == ["0000_c000_square-right.gif", "grid.gif", "grid.png",
                                             "samples.json"]


def test_old_export_is_refused(tmp_path):
  """A SavedModel without the latents signature (format version 1) is a one-line error naming the fix."""
  module = tf.Module()
  module.f = tf.function(lambda x: {"video": x}, input_signature=[tf.TensorSpec([None], tf.float32)])
  tf.saved_model.save(module, str(tmp_path / "old"), signatures={"sample": module.f.get_concrete_function()})
  with pytest.raises(UserError, match="export it again"):
    sampling.load(saved_model=str(tmp_path / "old"))


# ---- the command (subprocess, one run per source) and the notebook ---------------------------------------

def _subprocess(args, tmp_path, extra_python=()):
  env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
             TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.run([sys.executable, *extra_python, "-m", "dvd_gan.sample", *args], cwd=str(tmp_path),
                        env=env, capture_output=True, text=True, timeout=300, check=False)


def test_command_subprocess_from_workdir_and_saved_model(run, export_dir, tmp_path):
  """`python -m dvd_gan.sample` from the training run and from its export: the same seed gives the same
  videos (to one grey level: the in-process graph and the loaded one may round differently), a progress bar
  on stderr, and from the SavedModel no dvd_gan module other than the command's own is imported (the
  signatures do the work)."""
  common = ["--classes=all", "--num=2", "--format=npy", "--seed=7", "--batch_size=5"]
  from_run = _subprocess([f"--workdir={run[0]}", f"--out={tmp_path / 'a'}", *common], tmp_path)
  assert from_run.returncode == 0, from_run.stderr[-3000:]
  from_export = _subprocess([f"--saved_model={export_dir}", f"--out={tmp_path / 'b'}", *common], tmp_path,
                            extra_python=("-X", "importtime"))
  assert from_export.returncode == 0, from_export.stderr[-3000:]
  assert "sampling: 100%" in from_export.stderr and "4/4" in from_export.stderr  # 16 videos, batches of 5
  a, b = np.load(tmp_path / "a" / "videos.npy"), np.load(tmp_path / "b" / "videos.npy")
  assert a.shape == (2 * C, T, RES, RES, 3)
  assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
  imported = {line.split("|")[-1].strip() for line in from_export.stderr.splitlines()
              if line.startswith("import time:")}
  ours = {m for m in imported if m.split(".")[0] == "dvd_gan"}  # (-m runs dvd_gan.sample as __main__)
  assert "dvd_gan.sampling" in ours and ours <= {"dvd_gan", "dvd_gan.errors", "dvd_gan.sample",
                                                 "dvd_gan.sampling"}, ours


def test_notebook_runs_top_to_bottom(export_dir, tmp_path, monkeypatch):
  """notebooks/sample.ipynb executes without error against the tiny export (nbclient, a real kernel) and
  shows HTML5 videos, a GIF and PNG images inline."""
  import nbclient  # noqa: PLC0415 - optional dependency (test extra): absent, only this test fails
  import nbformat  # noqa: PLC0415 - optional dependency (test extra): absent, only this test fails
  monkeypatch.setenv("DVD_GAN_EXPORT", export_dir)
  monkeypatch.setenv("PYTHONPATH", REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
  monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
  nb = nbformat.read(os.path.join(REPO, "notebooks", "sample.ipynb"), as_version=4)
  nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                          resources={"metadata": {"path": str(tmp_path)}}).execute()
  html = [o["data"]["text/html"] for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
          if o.get("output_type") == "display_data" and "text/html" in o.get("data", {})]
  pngs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
          if "image/png" in o.get("data", {})]
  assert sum("<video" in h for h in html) >= 3 and any("image/gif" in h for h in html)
  assert len(pngs) >= 4
