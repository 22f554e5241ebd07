"""Trains a config on several GPU VMs (MultiWorkerMirroredStrategy, TF_CONFIG per host), end to end, and
deletes the VMs at the end.

    python experiments/launch/gpu_multi_worker.py --config=experiments/ucf101_16f_128.py \
        --name=dvd-gan-ucf --zone=us-central1-a --num_workers=2 --gpus_per_worker=4 \
        --workdir=gs://BUCKET/runs/ucf101 --data_dir=gs://BUCKET/tfds [--spot] [--dry_run] [--config.key=value ...]

Steps (each printed before it runs; --dry_run prints them and runs nothing, and needs no gcloud):
  1. gcloud compute instances create NAME-0 ... NAME-{N-1} (GPU type and count, a Deep Learning VM image with
     the NVIDIA driver);
  2. the committed source tree (git archive HEAD) copied to every VM and installed into a new virtual
     environment: TensorFlow with its CUDA libraries (tensorflow[and-cuda]) and every other package at the
     versions of constraints.txt (CI's newest lane), then `pip check`;
  3. on every VM, `.venv/bin/python -m dvd_gan.train --strategy=multi_worker` started detached, with its own
     TF_CONFIG: the same cluster {"worker": ["NAME-0:PORT", ...]} (VM names resolve inside the VPC) and its
     own index; worker 0 is the chief (checkpoints, TensorBoard, samples). The chief's log is streamed back;
  4. at the end, on failure and on Ctrl-C / SIGTERM / SIGHUP of this script: SIGTERM to every worker (they
     agree on a step, save and exit: docs/training.md, "Preemption") and `gcloud compute instances delete`
     (unless --keep_vms).

Workdir and data must be gs:// paths (shared by the workers, kept after the VMs are deleted).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import flags
from ml_collections import config_flags

import launch_lib
from eval import command
from eval.command import UsageError


def define_flags(fv, argv):
  d = dict(flag_values=fv)
  config_flags.DEFINE_config_file("config", None, "Experiment file inside --source (experiments/*.py[:arg]); "
                                  "--config.<key>=<value> overrides are forwarded.", sys_argv=argv, **d)
  flags.DEFINE_string("name", None, "Prefix of the VM names (NAME-0, NAME-1, ...).", **d)
  flags.DEFINE_string("zone", None, "Zone, e.g. us-central1-a.", **d)
  flags.DEFINE_string("project", None, "Google Cloud project (default: gcloud's configured project).", **d)
  flags.DEFINE_string("service_account", None, "Service account of the VMs (default: the Compute Engine "
                      "default account); it needs read/write access to the bucket.", **d)
  flags.DEFINE_integer("num_workers", 2, "Number of VMs (hosts).", lower_bound=2, **d)
  flags.DEFINE_string("machine_type", "n1-standard-16", "VM machine type.", **d)
  flags.DEFINE_string("gpu_type", "nvidia-tesla-v100", "GPU type (gcloud accelerator type).", **d)
  flags.DEFINE_integer("gpus_per_worker", 4, "GPUs per VM.", lower_bound=1, **d)
  flags.DEFINE_string("image_family", "common-cu124-debian-11-py310", "Deep Learning VM image family "
                      "(gcloud compute images list --project=deeplearning-platform-release).", **d)
  flags.DEFINE_string("image_project", "deeplearning-platform-release", "Project of the image.", **d)
  flags.DEFINE_string("boot_disk_size", "200GB", "Boot disk size.", **d)
  flags.DEFINE_boolean("spot", False, "Spot VMs (preemptible; the job saves on SIGTERM).", **d)
  flags.DEFINE_integer("port", 12345, "Port of the workers' collective communication.", **d)
  flags.DEFINE_string("workdir", None, "Run folder, gs://BUCKET/...", **d)
  flags.DEFINE_string("data_dir", None, "TFDS data_dir, gs://BUCKET/... (not needed for synthetic data).", **d)
  flags.DEFINE_integer("steps_per_loop", 1, "train.steps_per_loop.", lower_bound=1, **d)
  flags.DEFINE_string("mixed_precision", "float16", "train.mixed_precision on the GPUs.", **d)
  flags.DEFINE_string("source", launch_lib.REPO, "Source tree shipped to the VMs (its git HEAD).", **d)
  flags.DEFINE_string("python", "python3.11", "Python the job's virtual environment is made from on the VMs "
                      "(uv brings it where the image has none).", **d)
  flags.DEFINE_integer("stop_timeout", 600, "Seconds to wait for the job's final checkpoint before deleting.",
                       lower_bound=0, **d)
  flags.DEFINE_boolean("keep_vms", False, "Do not delete the VMs at the end.", **d)
  flags.DEFINE_boolean("dry_run", False, "Print the commands and run nothing.", **d)


def _gcloud(fv, *args) -> list:
  return ["gcloud", "compute", *args, f"--zone={fv.zone}"] + ([f"--project={fv.project}"] if fv.project else [])


def tf_config(hosts: list, index: int) -> str:
  return json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}},
                    separators=(",", ":"))


def body(fv, args):
  command.require(fv, "config", "name", "zone", "workdir")
  launch_lib.check_name("name", fv.name)
  launch_lib.check_zone(fv.zone)
  launch_lib.check_gs("workdir", fv.workdir)
  config = fv["config"].value
  if config.data.name != "synthetic" and not (fv.data_dir or config.data.data_dir):
    raise UsageError(f"dataset {config.data.name} needs --data_dir=gs://BUCKET/... (its prepared TFDS data)")
  data_dir = fv.data_dir or (config.data.data_dir or None)
  if data_dir:
    launch_lib.check_gs("data_dir", data_dir)
  launch_lib.check_schedule(config, fv.steps_per_loop)
  n = fv.num_workers
  lines = launch_lib.batch_lines(int(config.batch_size), n, n * fv.gpus_per_worker, "GPU replicas")
  config_arg = launch_lib.remote_config_arg(fv["config"].config_filename, fv.source)
  names = [f"{fv.name}-{i}" for i in range(n)]
  hosts = [f"{name}:{fv.port}" for name in names]
  train = [launch_lib.VENV_PYTHON, "-m", "dvd_gan.train", f"--config={config_arg}", f"--workdir={fv.workdir}",
           "--strategy=multi_worker", f"--config.train.steps_per_loop={fv.steps_per_loop}",
           f"--config.train.mixed_precision={fv.mixed_precision}"]
  if data_dir:
    train.append(f"--config.data.data_dir={data_dir}")
  train += launch_lib.config_overrides(fv)
  tarball = launch_lib.local_tarball(fv.name)

  create = _gcloud(fv, "instances", "create", *names, f"--machine-type={fv.machine_type}",
                   f"--accelerator=type={fv.gpu_type},count={fv.gpus_per_worker}",
                   "--maintenance-policy=TERMINATE", f"--image-family={fv.image_family}",
                   f"--image-project={fv.image_project}", f"--boot-disk-size={fv.boot_disk_size}",
                   "--metadata=install-nvidia-driver=True", "--scopes=cloud-platform")
  if fv.service_account:
    create.append(f"--service-account={fv.service_account}")
  if fv.spot:
    create += ["--provisioning-model=SPOT", "--instance-termination-action=DELETE"]
  plan = [("run", create), ("mark:created", None), ("run", launch_lib.package_command(fv.source, tarball))]
  # the newest lane's versions (constraints.txt) with TensorFlow's CUDA libraries from the package index
  install = launch_lib.install_command("tensorflow[and-cuda]", "constraints.txt", fv.python)
  for name in names:
    plan.append(("run", _gcloud(fv, "scp", tarball, f"{name}:{launch_lib.REMOTE_TARBALL}")))
    plan.append(("run", _gcloud(fv, "ssh", name, f"--command={install}")))
  plan.append(("mark:started", None))
  for i, name in enumerate(names):
    env = f"TF_CONFIG='{tf_config(hosts, i)}'"
    plan.append(("run", _gcloud(fv, "ssh", name, "--command=" + launch_lib.start_command(train, env=env))))
  plan.append(("stream", _gcloud(fv, "ssh", names[0], f"--command={launch_lib.stream_command()}")))
  cleanup = [("started", _gcloud(fv, "ssh", name, f"--command={launch_lib.stop_command(fv.stop_timeout)}"))
             for name in names]
  if not fv.keep_vms:
    cleanup.append(("created", _gcloud(fv, "instances", "delete", *names, "--quiet")))
  header = f"# {n} x {fv.machine_type} with {fv.gpus_per_worker} x {fv.gpu_type}"
  return launch_lib.run_plan(fv.dry_run, [header, *lines], plan, cleanup)


def main(argv=None):
  return launch_lib.launcher_main(argv, define_flags, body, __doc__)


if __name__ == "__main__":
  command.run(main)
