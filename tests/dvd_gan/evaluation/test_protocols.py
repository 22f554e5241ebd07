"""Which protocols score a run: the paper's per dataset / task, the experiment configs' own, the main metric."""
import pytest

from dvd_gan.config import base_config
from dvd_gan.evaluation import protocols as run_protocols
from eval.errors import EvalError
from tests.repo_files import experiment_config


def _experiment(name, arg=None):
  return experiment_config(name, arg) if arg else experiment_config(name)


def _config(dataset, conditioning=0, stride=1, frames=12):
  c = base_config()
  c.num_frames = frames
  c.data.name, c.data.num_conditioning_frames, c.data.stride = dataset, conditioning, stride
  return c


def test_paper_protocols_per_dataset_and_task():
  """Kinetics-600 synthesis: FID/IS and truncated IS; UCF-101: C3D IS; frame-conditional runs (any dataset)
  and BAIR: FVD; the synthetic demo: demo_fvd. eval.final_protocols overrides them."""
  assert run_protocols.paper_protocols(_config("kinetics600")) == ("k600_fid_is", "k600_is_truncated")
  assert run_protocols.paper_protocols(_config("ucf101")) == ("ucf101_is_c3d",)
  assert run_protocols.paper_protocols(_config("kinetics600", conditioning=5)) == ("fvd_k400",)
  assert run_protocols.paper_protocols(_config("bair_robot_pushing_small", conditioning=1)) == ("fvd_k400",)
  assert run_protocols.paper_protocols(_config("synthetic")) == ("demo_fvd",)
  c = _config("kinetics600")
  c.eval.final_protocols = ("fvd_k400",)
  assert run_protocols.final_protocols(c) == ("fvd_k400",)


@pytest.mark.parametrize("name,arg", [("kinetics600_12f_64", None), ("kinetics600_48f_64", None),
                                      ("kinetics600_12f_128", None), ("kinetics600_48f_128", None),
                                      ("kinetics600_12f_256", None), ("ucf101_16f_128", None),
                                      ("ablation_k", "2"), ("ablation_phi", "identity"), ("tiny", None)])
def test_every_experiment_is_scored_by_protocols_that_fit_it(name, arg):
  """Each config's periodic and final protocols accept its dataset, frames and stride, and its main metric
  and paper figures resolve (the paper configs' first protocol has the paper's number beside it)."""
  c = _experiment(name, arg)
  assert c.eval.every_steps > 0 and c.eval.protocols
  for p in run_protocols.periodic_protocols(c) + run_protocols.final_protocols(c):
    run_protocols.check_protocol(c, p)
  main = run_protocols.main_metric(c)
  if name.startswith("kinetics600"):
    assert main == "k600_fid_is/fid" and run_protocols.paper_figures(c, main)[0] > 0
  if name.startswith("ucf101"):
    assert main == "ucf101_is_c3d/is" and run_protocols.paper_figures(c, main) == (32.97, 1.7)
    assert run_protocols.higher_is_better(main)


def test_protocols_that_do_not_fit_a_run_are_refused():
  with pytest.raises(EvalError, match="compares with kinetics600 statistics; this run's data is ucf101"):
    run_protocols.check_protocol(_config("ucf101"), "k600_fid_is")
  with pytest.raises(EvalError, match="frame stride 1; this run's data.stride is 2"):
    run_protocols.check_protocol(_config("bair_robot_pushing_small", 1, stride=2, frames=15), "fvd_k400")
  with pytest.raises(EvalError, match="scores 16-frame videos; this run makes 12"):
    run_protocols.check_protocol(_config("bair_robot_pushing_small"), "fvd_k400")
  c = _config("kinetics600")
  c.eval.protocols = ("k600_fid_is",)
  c.eval.main_metric = "k600_fid_is/fvd"
  with pytest.raises(EvalError, match="has metrics fid, is"):
    run_protocols.main_metric(c)


def test_paper_figures_of_table_3():
  """FVD rows of Table 3: DVD-GAN-FP (5 + 11 frames) and DVD-GAN synthesis (16 frames), train or test split."""
  c = _config("kinetics600", conditioning=5, frames=11)
  assert run_protocols.paper_figures(c, "fvd_k400/fvd") == (103.78, 1.17)
  c.eval.real_split = "train"
  assert run_protocols.paper_figures(c, "fvd_k400/fvd") == (99.32, 0.55)
  assert run_protocols.paper_figures(_config("kinetics600", frames=16), "fvd_k400/fvd") == (31.1, 0.56)
  assert run_protocols.paper_figures(_config("kinetics600", frames=12), "fvd_k400/fvd") is None
