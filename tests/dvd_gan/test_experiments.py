"""dvd_gan.experiments: experiment configs by name from any folder, by path, with :ARG; one-line errors."""
import glob
import os
import shutil

import ml_collections
import pytest
from absl import flags

from dvd_gan import experiments, train
from eval.command import UsageError
from dvd_gan.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, "experiments", "*.py"))
               if not os.path.basename(p).startswith("_"))


def test_names_are_the_files_of_experiments():
  assert experiments.names() == FILES
  assert {"demo", "tiny", "kinetics600_12f_64", "ucf101_16f_128", "ablation_k"} <= set(FILES)


def test_the_demo_is_tiny_at_32x32():
  """experiments/demo.py (the default of dvd_gan.train) differs from tiny.py only in its size (32x32 frames,
  G's channel multipliers: one more upsampling stage), its schedule (two D steps per G step for 2400 G steps)
  and its evaluation interval (800: 3 evaluations, the last at the last step)."""
  assert train.DEFAULT_CONFIG == "demo"
  demo, tiny = experiments.load("demo").to_dict(), experiments.load("tiny").to_dict()
  assert (demo["resolution"], tiny["resolution"]) == (32, 16)
  assert demo["model"].pop("g_multipliers") == (4, 4, 2, 2)
  assert (demo["train"].pop("num_steps"), tiny["train"].pop("num_steps")) == (2400, 1800)
  assert (demo["train"].pop("d_steps_per_g_step"), tiny["train"].pop("d_steps_per_g_step")) == (2, 1)
  assert (demo["eval"].pop("every_steps"), tiny["eval"].pop("every_steps")) == (800, 300)
  tiny["model"].pop("g_multipliers")
  demo.pop("resolution"), tiny.pop("resolution")
  assert demo == tiny


@pytest.mark.parametrize("name", FILES)
def test_every_experiment_resolves_by_name_from_another_folder(name, tmp_path, monkeypatch):
  """Each experiments/<name>.py loads by its bare name (and name.py) from a folder outside the repository,
  and gives the same config as loading the file by its path."""
  monkeypatch.chdir(tmp_path)
  path = os.path.join(REPO, "experiments", name + ".py")
  assert experiments.resolve(name) == path
  assert experiments.resolve(name + ".py") == path
  by_name = experiments.load(name)
  assert isinstance(by_name, ml_collections.ConfigDict)
  assert by_name.to_dict() == experiments.load(path).to_dict()


def test_arguments_and_paths(tmp_path, monkeypatch):
  """`name:ARG` passes ARG to get_config; an existing file is used as it is, even if it shares a name."""
  assert experiments.resolve("ablation_k:2").endswith(os.path.join("experiments", "ablation_k.py") + ":2")
  assert experiments.load("ablation_k:2").model.ds_k == 2
  own = tmp_path / "tiny.py"
  own.write_text("import ml_collections\n\ndef get_config():\n  return ml_collections.ConfigDict({'x': 1})\n")
  monkeypatch.chdir(tmp_path)
  assert experiments.resolve("tiny.py") == "tiny.py"  # the file in the working directory wins
  assert experiments.load("tiny.py").x == 1
  assert experiments.load(str(own)).x == 1


@pytest.mark.parametrize("spec, message", [
    ("no_such_name", "no experiment named 'no_such_name'"),
    ("some/dir/missing.py", "no such file: some/dir/missing.py"),
    ("ablation_k:3", "k=3 is not a Figure 7 setting"),
    ("", "empty config spec"),
])
def test_errors_are_one_line(spec, message):
  with pytest.raises(UserError, match=message) as e:
    experiments.load(spec)
  assert "\n" not in str(e.value)


def test_broken_file_is_one_line_error(tmp_path):
  bad = tmp_path / "bad.py"
  bad.write_text("def get_config(:\n")
  with pytest.raises(UserError, match=r"cannot load .*bad\.py: SyntaxError"):
    experiments.load(str(bad))


def test_installed_package_is_found_without_a_checkout(tmp_path, monkeypatch):
  """Outside a source checkout the files come from the installed package `dvd_gan_experiments` (what
  setup.py makes of experiments/ in a wheel)."""
  package = tmp_path / "site" / experiments.PACKAGE
  shutil.copytree(os.path.join(REPO, "experiments"), package)
  monkeypatch.syspath_prepend(str(tmp_path / "site"))
  monkeypatch.setattr(experiments, "_checkout_dir", lambda: None)
  assert experiments.experiments_dir() == str(package)
  assert experiments.resolve("tiny") == str(package / "tiny.py")
  assert experiments.load("tiny").resolution == 16


def test_config_flag_by_name_with_overrides():
  fv = flags.FlagValues()
  argv = ["prog", "--config=kinetics600_12f_64", "--config.batch_size=4"]
  experiments.DEFINE_config(fv, argv, default="tiny")
  fv(argv)
  assert fv.config.batch_size == 4 and fv.config.resolution == 64
  fv = flags.FlagValues()
  experiments.DEFINE_config(fv, ["prog"], default="tiny")
  fv(["prog"])
  assert fv.config.resolution == 16


@pytest.mark.parametrize("argv, message", [
    (["prog", "--config=tiny", "--config.train.nope=1"], "field the config does not have: train.nope"),
    (["prog", "--config=nope"], "no experiment named 'nope'"),
])
def test_config_flag_errors_are_usage_errors(argv, message):
  with pytest.raises(UsageError, match=message):
    experiments.DEFINE_config(flags.FlagValues(), argv, default="tiny")
