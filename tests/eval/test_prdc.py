"""Precision, recall, density and coverage against references written from the papers' definitions.

The references use plain numpy with brute-force distances (every pair through np.linalg.norm, the k-th
neighbour by sorting), independent of eval.metrics.prdc's blocked ||a||^2 + ||b||^2 - 2ab computation.
"""
import numpy as np
import pytest

from eval import cli
from eval.errors import EvalError
from eval.metrics import prdc as prdc_lib
from eval.stats import FeatureStats


def brute_force_prdc(real, fake, k):
  """Kynkäänniemi et al. 2019 (precision, recall) and Naeem et al. 2020 (density, coverage), literally."""
  d_rr = np.linalg.norm(real[:, None] - real[None], axis=-1)
  d_ff = np.linalg.norm(fake[:, None] - fake[None], axis=-1)
  d_fr = np.linalg.norm(fake[:, None] - real[None], axis=-1)  # [M, N]
  r_real = np.sort(d_rr, axis=1)[:, k]  # column 0 is the point itself
  r_fake = np.sort(d_ff, axis=1)[:, k]
  precision = np.mean([any(d_fr[j, i] < r_real[i] for i in range(len(real))) for j in range(len(fake))])
  recall = np.mean([any(d_fr[j, i] < r_fake[j] for j in range(len(fake))) for i in range(len(real))])
  density = np.mean([sum(d_fr[j, i] < r_real[i] for i in range(len(real))) for j in range(len(fake))]) / k
  coverage = np.mean([min(d_fr[:, i]) < r_real[i] for i in range(len(real))])
  return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


@pytest.mark.parametrize("k", [1, 3, 5])
def test_prdc_equals_the_papers_definitions_on_random_sets(k):
  """Random sets of different sizes whose clouds partly overlap (the four figures strictly between 0 and 1
  for some k): every figure equals the brute-force reference exactly, for every block size (1 row, a block
  that does not divide the set, one block for all)."""
  rng = np.random.default_rng(k)
  real = rng.normal(size=(60, 8))
  fake = rng.normal(size=(45, 8)) * 0.8 + 0.6
  expected = brute_force_prdc(real, fake, k)
  assert 0 < expected["precision"] < 1 and 0 < expected["recall"] < 1
  for block in (1, 7, 1000):
    got = prdc_lib.prdc(real, fake, k=k, block_size=block)
    for name in prdc_lib.NAMES:
      assert got[name] == pytest.approx(expected[name], abs=1e-12), (name, block)


def test_identical_sets_give_precision_and_recall_one():
  """Every video of a set lies in its own ball (distance 0 < its k-NN radius): precision = recall =
  coverage = 1 when the fake set is the real one. Density is 1 up to ties: each fake copy of a real video's
  k-th neighbour sits exactly on that video's radius, where the strict `<` meets float rounding."""
  x = np.random.default_rng(0).normal(size=(80, 16))
  got = prdc_lib.prdc(x, x.copy(), k=5, block_size=13)
  assert got["precision"] == got["recall"] == got["coverage"] == 1.0
  assert got["density"] == pytest.approx(1.0, abs=1 / 5)


def test_far_apart_clouds_give_zero():
  """Two clouds 1000 standard deviations apart: no fake video is in a real ball and no real video in a fake
  ball, so all four figures are 0."""
  rng = np.random.default_rng(1)
  got = prdc_lib.prdc(rng.normal(size=(50, 8)), rng.normal(size=(40, 8)) + 1000.0, k=5, block_size=16)
  assert got == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_knn_radii_need_more_videos_than_k():
  with pytest.raises(EvalError, match="nearest neighbours need more than k"):
    prdc_lib.knn_radii(np.zeros([5, 3]), 5)


def _features_file(path, features, layer="avgpool", labels=None):
  stats = FeatureStats(store_features=True, metadata={"network": "i3d-kinetics-400", "layer": layer,
                                                      "frames": 16})
  stats.append(features)
  if labels is not None:
    stats.set_labels(labels)
  stats.save(str(path))
  return str(path)


def test_prdc_command_prints_the_four_figures_last(tmp_path, capsys):
  """`python -m eval prdc` on two features files: the last four lines are precision, recall, density and
  coverage, equal to the reference; --json records them as components."""
  rng = np.random.default_rng(2)
  real, fake = rng.normal(size=(40, 6)), rng.normal(size=(30, 6)) + 0.5
  out = tmp_path / "prdc.json"
  status = cli.main(["eval", "prdc", f"--real={_features_file(tmp_path / 'r.npz', real)}",
                     f"--fake={_features_file(tmp_path / 'f.npz', fake)}", "--k=3", f"--json={out}"])
  assert status == 0
  lines = capsys.readouterr().out.strip().splitlines()
  expected = brute_force_prdc(real.astype(np.float32).astype(np.float64), fake.astype(np.float32), 3)
  assert [line.split(":")[0] for line in lines[-4:]] == list(prdc_lib.NAMES)
  for line, name in zip(lines[-4:], prdc_lib.NAMES):
    assert float(line.split(": ")[1]) == pytest.approx(expected[name], abs=1e-4)
  assert out.exists()


def test_prdc_refuses_mismatched_layers(tmp_path, capsys):
  """A logits features file against an avgpool one: refused (exit 2, one error line), as for FVD."""
  x = np.random.default_rng(3).normal(size=(20, 5))
  status = cli.main(["eval", "prdc", f"--real={_features_file(tmp_path / 'r.npz', x, 'logits')}",
                     f"--fake={_features_file(tmp_path / 'f.npz', x, 'avgpool')}"])
  assert status == 2
  assert "not comparable" in capsys.readouterr().err
