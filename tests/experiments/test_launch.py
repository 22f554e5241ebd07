"""experiments/launch: the Cloud TPU and multi-host GPU launch scripts.

The --dry_run tests print the plan of every config in experiments/ and read back the commands (config,
--strategy, gs:// workdir, per-host batch); subprocess is replaced by a function that fails the test, so
nothing runs and gcloud is not needed. The remote shell pieces (start detached, stream the log, stop) run
for real in bash on this machine, with a stand-in training job.
"""
import glob
from importlib import metadata
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import time

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.repo_files import experiment_config, load_module

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_LAUNCH = os.path.join(_REPO, "experiments", "launch")
CONFIGS = sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(_REPO, "experiments", "*.py"))
                 if not os.path.basename(p).startswith("_"))  # not experiments/__init__.py


def _load(name):
  return load_module(os.path.join(_LAUNCH, f"{name}.py"), f"launch_{name}")


tpu_vm, gpu_multi_worker = _load("tpu_vm"), _load("gpu_multi_worker")
launch_lib = sys.modules["launch_lib"]


@pytest.fixture
def nothing_runs(monkeypatch):
  def forbidden(*args, **kwargs):
    raise AssertionError(f"a command was run: {args}")
  monkeypatch.setattr(subprocess, "run", forbidden)
  monkeypatch.setattr(subprocess, "Popen", forbidden)


def _config(name):
  return experiment_config(name, module_name=f"experiment_{name}")


def _plan(out):
  """The planned commands (one string each) of a dry run's output."""
  return [l[4:] for l in out.splitlines() if l.startswith("#   ")]


@pytest.mark.parametrize("accelerator, hosts, replicas", [("v3-8", 1, 8), ("v4-32", 4, 16)])
@pytest.mark.parametrize("name", CONFIGS)
def test_tpu_dry_run_prints_the_job_of_every_config(name, accelerator, hosts, replicas, capsys, nothing_runs):
  """For every config and a single host (v3-8) or a pod slice (v4-32): the train command runs the config
  with --strategy=tpu on the gs:// workdir (--tpu=local on one host; on a pod: worker 0, --tpu=<name>,
  TPU_LOAD_LIBRARY=0), forwards overrides, and the printed batch split matches the config's batch_size
  (per replica = B / replicas, per host = B / hosts); the TPU is created before and deleted in the cleanup."""
  batch = int(_config(name).batch_size)
  extra = [] if batch % replicas == 0 else ["--config.batch_size=64"]
  batch = batch if not extra else 64
  workdir = f"gs://test-bucket/runs/{name}"
  code = tpu_vm.main(["tpu_vm.py", f"--config={_REPO}/experiments/{name}.py", "--name=dvd-test",
                      "--zone=europe-west4-a", f"--accelerator_type={accelerator}", f"--workdir={workdir}",
                      "--data_dir=gs://test-bucket/tfds", "--dry_run", *extra])
  out = capsys.readouterr().out
  assert code == 0, out
  plan = _plan(out)
  train = [c for c in plan if "-m dvd_gan.train" in c]
  assert len(train) == 1, plan
  cmd = train[0]
  for piece in (f"--config=experiments/{name}.py ", "--strategy=tpu ", f"--workdir={workdir} ",
                "--config.train.steps_per_loop=10 ", "--config.data.data_dir=gs://test-bucket/tfds", *extra):
    assert piece in cmd, (piece, cmd)
  if hosts == 1:
    assert "--tpu=local " in cmd and "--worker=all" in cmd and "TPU_LOAD_LIBRARY" not in cmd
  else:
    assert "--tpu=dvd-test " in cmd and "--worker=0" in cmd and "TPU_LOAD_LIBRARY=0 .venv/bin/python" in cmd
  line = [l for l in out.splitlines() if l.startswith("# global batch")][0]
  assert (f"global batch {batch} = {replicas} TPU replicas x {batch // replicas} per replica = {hosts} host(s) "
          f"x {batch // hosts} per host") in line
  assert plan[0].startswith(f"gcloud compute tpus tpu-vm create dvd-test --accelerator-type={accelerator} ")
  assert plan[-1] == "gcloud compute tpus tpu-vm delete dvd-test --quiet --zone=europe-west4-a"
  assert out.rstrip().endswith("nothing was run")


@pytest.mark.parametrize("name", CONFIGS)
def test_gpu_dry_run_gives_each_host_its_tf_config(name, capsys, nothing_runs):
  """3 VMs x 2 GPUs: one command per host starts dvd_gan.train --strategy=multi_worker with the config and
  the gs:// workdir and a TF_CONFIG naming the same 3 workers and the host's own index; the batch line splits
  the config's batch over 6 replicas and 3 hosts; the VMs are deleted in the cleanup."""
  batch = int(_config(name).batch_size)
  extra = [] if batch % 6 == 0 else ["--config.batch_size=60"]
  batch = batch if not extra else 60
  code = gpu_multi_worker.main(["gpu_multi_worker.py", f"--config={_REPO}/experiments/{name}.py", "--name=dvd-g",
                                "--zone=us-central1-a", "--num_workers=3", "--gpus_per_worker=2",
                                "--workdir=gs://test-bucket/run", "--data_dir=gs://test-bucket/tfds",
                                "--dry_run", *extra])
  out = capsys.readouterr().out
  assert code == 0, out
  starts = [c for c in _plan(out) if "-m dvd_gan.train" in c]
  assert len(starts) == 3
  for i, cmd in enumerate(starts):
    assert cmd.startswith(f"gcloud compute ssh dvd-g-{i} ")
    assert f"--config=experiments/{name}.py " in cmd and "--strategy=multi_worker " in cmd
    assert "--workdir=gs://test-bucket/run " in cmd
    tf_config = json.loads(re.search(r"TF_CONFIG='\"'\"'(.*?)'\"'\"'", cmd).group(1).replace('\\"', '"'))
    assert tf_config == {"cluster": {"worker": [f"dvd-g-{j}:12345" for j in range(3)]},
                         "task": {"type": "worker", "index": i}}
  line = [l for l in out.splitlines() if l.startswith("# global batch")][0]
  assert f"global batch {batch} = 6 GPU replicas x {batch // 6} per replica = 3 host(s) x {batch // 3} per host" in line
  assert _plan(out)[-1] == "gcloud compute instances delete dvd-g-0 dvd-g-1 dvd-g-2 --quiet --zone=us-central1-a"


@pytest.mark.parametrize("args, message", [
    ([], "--config is required"),
    (["--workdir=/local/runs"], "gs://BUCKET"),
    (["--accelerator_type=v3-32", "--config.batch_size=8"], "not divisible by the 32 TPU replicas"),
    (["--accelerator_type=v9-8"], "accelerator_type"),
    (["--steps_per_loop=7"], "multiple of train.steps_per_loop (7)"),
    (["--name=Bad_Name"], "--name"),
    (["--zone=europe"], "--zone"),
    (["--config.no_such_key=1"], "no_such_key"),
])
def test_bad_arguments_one_line_exit_2(args, message, capsys, nothing_runs):
  """Each bad argument: exit status 2, one `error:` line naming it on stderr, no command printed or run."""
  base = {"--config": f"{_REPO}/experiments/tiny.py", "--name": "dvd", "--zone": "europe-west4-a",
          "--accelerator_type": "v3-8", "--workdir": "gs://test-bucket/r"}
  given = {a.split("=")[0] for a in args}
  argv = ["tpu_vm.py"] + [f"{k}={v}" for k, v in base.items() if k not in given and args != []] + args
  if not args:
    argv = ["tpu_vm.py", "--name=dvd"]
  code = tpu_vm.main(argv + ["--dry_run"])
  captured = capsys.readouterr()
  lines = [l for l in captured.err.splitlines() if l.strip()]
  assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], captured
  assert "gcloud" not in captured.out


def test_cleanup_runs_when_a_step_fails(monkeypatch, capsys):
  """The trap: when a step fails after the TPU was created, the TPU is still deleted (and the job, never
  started, is not stopped); the failure is one `error:` line and exit status 1."""
  ran = []

  def fake_run(cmd, check=False):
    ran.append(cmd)
    return subprocess.CompletedProcess(cmd, 128 if cmd[0] == "git" else 0)
  monkeypatch.setattr(subprocess, "run", fake_run)
  code = tpu_vm.main(["tpu_vm.py", f"--config={_REPO}/experiments/tiny.py", "--name=dvd", "--zone=europe-west4-a",
                      "--accelerator_type=v3-8", "--workdir=gs://test-bucket/r"])
  err = capsys.readouterr().err
  assert code == 1 and "error: command failed with exit status 128: git" in err
  assert [c[:5] for c in ran] == [["gcloud", "compute", "tpus", "tpu-vm", "create"], ["git", "-C", _REPO, "archive",
                                  "--format=tar.gz"], ["gcloud", "compute", "tpus", "tpu-vm", "delete"]]


_JOB = textwrap.dedent("""
  import json, os, signal, sys, time
  signal.signal(signal.SIGTERM, lambda *a: (print("saved at SIGTERM", flush=True), sys.exit(0)))
  print("args", json.dumps(sys.argv[1:]), "index", json.loads(os.environ["TF_CONFIG"])["task"]["index"], flush=True)
  for _ in range(int(sys.argv[1])):
    time.sleep(0.1)
  print("done", flush=True)
  sys.exit(int(sys.argv[2]))
""")


def _bash(command, home):
  return subprocess.run(["bash", "-c", command], env=dict(os.environ, HOME=str(home)), capture_output=True,
                        text=True, timeout=60)


def test_remote_job_start_stream_and_stop_in_bash(tmp_path):
  """The remote shell commands, run by bash with a stand-in job: the job starts detached with its
  arguments and TF_CONFIG intact (quotes, JSON, parentheses), the stream prints its log and exits with the
  job's status; the stop command sends SIGTERM and waits until the job has exited."""
  (tmp_path / "dvd-gan").mkdir()
  (tmp_path / "job.py").write_text(_JOB)
  env = ("TF_CONFIG='" + json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}})
         + "'")
  start = launch_lib.start_command([sys.executable, str(tmp_path / "job.py"), "3", "7", "--x=(1, 2)"], env=env)
  assert _bash(start, tmp_path).returncode == 0
  streamed = _bash(launch_lib.stream_command(), tmp_path)
  assert streamed.returncode == 7
  assert 'args ["3", "7", "--x=(1, 2)"] index 1' in streamed.stdout and "done" in streamed.stdout
  assert _bash(launch_lib.start_command([sys.executable, str(tmp_path / "job.py"), "600", "0"], env=env),
               tmp_path).returncode == 0
  log = tmp_path / "dvd-gan-train.log"
  deadline = time.time() + 30
  while "args" not in (log.read_text() if log.exists() else "") and time.time() < deadline:
    time.sleep(0.1)  # the job is up (its SIGTERM handler installed)
  assert _bash(launch_lib.stop_command(30), tmp_path).returncode == 0
  log = log.read_text()
  assert "saved at SIGTERM" in log and "done" not in log
  status = tmp_path / "dvd-gan-train.status"
  deadline = time.time() + 30
  while not status.exists() and time.time() < deadline:
    time.sleep(0.1)  # the stop returns when the job has exited; its wrapper writes the status just after
  assert status.read_text().strip() == "0"


# What tensorflow-tpu 2.20.0 (the newest on the package index) requires of the packages that broke TPU jobs
# before (its wheel's METADATA, Requires-Dist): the TPU constraints must satisfy these, as pip would check on
# the VM. The TPU lane of CI (tensorflow 2.20.0, CPU wheel) checks the same against the installed metadata.
TENSORFLOW_TPU_REQUIRES = {
    "2.20.0": {"numpy": ">=1.26.0", "protobuf": ">=5.28.0", "tensorboard": "~=2.20.0", "keras": ">=3.10.0",
               "ml-dtypes": "<1.0.0,>=0.5.1", "libtpu": "~=0.0.14", "h5py": ">=3.11.0"},
}


def _install_command(out):
  """The remote shell command of the plan's install step (unquoted)."""
  line = [c for c in _plan(out) if "pip install" in c and "tpu-vm ssh" in c][0]
  return line, [a for a in shlex.split(line) if a.startswith("--command=")][0][len("--command="):]


def test_tpu_install_plan_pins_agree_with_the_tpu_constraints(capsys, nothing_runs):
  """The default plan for a v3-8 (single host) and a v4-32 (pod): the OS-only image of the family, then on
  every host a new virtual environment with DVD_GAN_TENSORFLOW=tensorflow-tpu under constraints-tpu.txt and
  `pip check` before the job starts; the job runs that environment's Python. In constraints-tpu.txt,
  tensorflow-tpu and tensorflow have one version, tensorflow-tpu's requirements (numpy, protobuf,
  tensorboard, keras, ml_dtypes, libtpu) are met, and requirements.txt's tensorflow floor is that version
  (the oldest TensorFlow CI passes with is the one TPUs run)."""
  for accelerator, image in (("v3-8", "tpu-ubuntu2204-base"), ("v4-32", "tpu-ubuntu2204-base"),
                             ("v6e-8", "v2-alpha-tpuv6e"), ("v5litepod-16", "v2-alpha-tpuv5-lite")):
    code = tpu_vm.main(["tpu_vm.py", f"--config={_REPO}/experiments/tiny.py", "--name=dvd",
                        "--zone=europe-west4-a", f"--accelerator_type={accelerator}",
                        "--workdir=gs://test-bucket/r", "--config.batch_size=16", "--dry_run"])
    out = capsys.readouterr().out
    assert code == 0, out
    plan = _plan(out)
    assert f"--version={image} " in plan[0], plan[0]
    line, install = _install_command(out)
    assert ("DVD_GAN_TENSORFLOW='tensorflow-tpu' ~/dvd-gan/.venv/bin/python -m pip install --quiet "
            "-c ~/dvd-gan/constraints-tpu.txt -e ~/dvd-gan") in install
    assert install.index("-c ~/dvd-gan/constraints-tpu.txt") < install.index("-m pip check")
    assert "--no-deps" not in install  # one resolution of everything, under the constraints
    train = [c for c in plan if "-m dvd_gan.train" in c][0]
    assert ".venv/bin/python -m dvd_gan.train" in train
    assert plan.index(line) < plan.index(train)
  pins = launch_lib.constraint_pins(tpu_vm.TPU_CONSTRAINTS)
  version = pins["tensorflow-tpu"]
  assert f"tensorflow-tpu=={version} and the versions of constraints-tpu.txt" in out
  assert pins["tensorflow"] == version
  for name, spec in TENSORFLOW_TPU_REQUIRES[version].items():
    assert pins[name] in SpecifierSet(spec), (name, pins[name], spec)
  with open(os.path.join(_REPO, "requirements.txt")) as f:
    floors = dict(re.findall(r"^([A-Za-z0-9_.\-]+)>=([0-9.]+)", f.read(), re.M))
  assert floors["tensorflow"] == version
  assert floors["tensorboard"] == pins["tensorboard"]


def test_the_constraints_of_the_installed_tensorflow_meet_its_requirements():
  """The constraints file that pins the installed TensorFlow's version (constraints-tpu.txt in CI's TPU lane,
  constraints.txt in the newest lane) meets every requirement that TensorFlow's metadata declares of a
  package it pins. tensorflow and tensorflow-tpu of one version declare the same requirements, so in the TPU
  lane this is what pip resolves on the TPU hosts."""
  installed = metadata.version("tensorflow")
  files = [f for f in ("constraints-tpu.txt", "constraints.txt")
           if launch_lib.constraint_pins(f).get("tensorflow") == installed]
  if not files:
    pytest.skip(f"tensorflow {installed} is pinned by neither constraints file (CI's lanes install pinned ones)")
  pins = launch_lib.constraint_pins(files[0])
  checked = 0
  for line in metadata.requires("tensorflow") or []:
    requirement = Requirement(line)
    name = re.sub(r"[-_.]+", "-", requirement.name).lower()
    if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
      continue
    if name in pins:
      assert pins[name] in requirement.specifier, (files[0], line, pins[name])
      checked += 1
  assert checked >= 10


def test_pip_check_conflict_stops_the_install_with_one_line(tmp_path):
  """The install's last step, in bash, with a stand-in venv whose `pip check` reports a conflict: exit
  status 3 and one `error:` line naming the conflict (nothing after it runs); with a clean check, status 0."""
  venv = tmp_path / "venv"
  (venv / "bin").mkdir(parents=True)
  python = venv / "bin" / "python"
  check = launch_lib.install_steps(str(tmp_path), str(venv), "tensorflow-tpu", "constraints-tpu.txt")[-1]
  python.write_text("#!/bin/sh\necho 'protobuf 7.36.2 is not supported: tensorflow 2.19.1 requires protobuf<6'\n"
                    "echo 'second conflict'\nexit 1\n")
  python.chmod(0o755)
  result = _bash(check + " && echo job-started", tmp_path)
  lines = [l for l in result.stderr.splitlines() if l.strip()]
  assert result.returncode == 3 and "job-started" not in result.stdout
  assert lines == [f"error: pip check found a conflict in {venv}: protobuf 7.36.2 is not supported: "
                   "tensorflow 2.19.1 requires protobuf<6"]
  python.write_text("#!/bin/sh\necho 'No broken requirements found.'\n")
  result = _bash(check + " && echo job-started", tmp_path)
  assert result.returncode == 0 and "job-started" in result.stdout
