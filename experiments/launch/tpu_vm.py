"""Trains a config on a Cloud TPU VM or pod slice, end to end, and deletes the TPU at the end.

    python experiments/launch/tpu_vm.py --config=experiments/kinetics600_12f_64.py \
        --name=dvd-gan-k600 --zone=europe-west4-a --accelerator_type=v3-32 \
        --workdir=gs://BUCKET/runs/k600_12f_64 --data_dir=gs://BUCKET/tfds [--spot] [--dry_run] \
        [--config.batch_size=256 ...]

Steps (each printed before it runs; --dry_run prints them and runs nothing, and needs no gcloud):
  1. gcloud compute tpus tpu-vm create (accelerator type, runtime version, zone; --spot for a Spot TPU);
  2. the committed source tree (git archive HEAD) copied to every host and installed there into a new
     virtual environment: `tensorflow-tpu` and every other package at the versions of constraints-tpu.txt
     (the versions CI's TPU lane tests), then `pip check` (a conflict stops the job before any training);
  3. `.venv/bin/python -m dvd_gan.train --strategy=tpu` started detached on the VM (it survives a dropped ssh
     session), its log streamed back until it ends. One host (v2-8, v3-8, v4-8, v5litepod-8, ...): `--tpu=local`.
     A pod slice: TensorFlow drives every host from one client, so the job runs on worker 0 with
     `--tpu=<name>` (and TPU_LOAD_LIBRARY=0, so that this client leaves the TPU chips to the TPU runtime);
  4. at the end, on failure and on Ctrl-C / SIGTERM / SIGHUP of this script: SIGTERM to the job (it saves a
     checkpoint and exits) and `gcloud compute tpus tpu-vm delete` (unless --keep_vm).

Workdir and data must be gs:// paths: the TPU VMs and their disks go away with the TPU. Rerunning the same
command resumes from the workdir's last checkpoint. Any `--config.<key>=<value>` is forwarded to
dvd_gan.train; the config's batch_size is checked against the replicas and split per host (printed).
See README.md, "Training on Cloud TPU", and docs/training.md.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import flags
from ml_collections import config_flags

import launch_lib
from eval import command
from eval.command import UsageError

TPU_CONSTRAINTS = "constraints-tpu.txt"
# The OS-only TPU VM images, by TPU family (Google's "TPU software versions" table): TensorFlow comes from
# the package index (tensorflow-tpu, pinned by TPU_CONSTRAINTS), not from the image.
BASE_IMAGES = {"v2": "tpu-ubuntu2204-base", "v3": "tpu-ubuntu2204-base", "v4": "tpu-ubuntu2204-base",
               "v5litepod": "v2-alpha-tpuv5-lite", "v5e": "v2-alpha-tpuv5-lite", "v5p": "v2-alpha-tpuv5",
               "v6e": "v2-alpha-tpuv6e"}


def base_image(accelerator_type: str) -> str:
  """The default --runtime_version of an accelerator type: its family's OS-only image."""
  family = accelerator_type.split("-")[0]
  if family not in BASE_IMAGES:
    raise UsageError(f"no default image for --accelerator_type={accelerator_type}: give --runtime_version")
  return BASE_IMAGES[family]


def tensorflow_pin(distribution: str) -> str:
  """`name==version` of the TensorFlow distribution as TPU_CONSTRAINTS pins it."""
  pins = launch_lib.constraint_pins(TPU_CONSTRAINTS)
  name = distribution.split("[")[0]
  if name not in pins:
    raise UsageError(f"--tensorflow={distribution}: {TPU_CONSTRAINTS} pins no version of {name}")
  return f"{name}=={pins[name]}"


def tpu_topology(accelerator_type: str) -> tuple:
  """(hosts, replicas) of a Cloud TPU accelerator type; replicas = the TPU devices TensorFlow sees.

    v2-N, v3-N      N TensorCores, each its own device; 8 per host.
    v4-N, v5p-N     N TensorCores, two per chip fused into one device (megacore); 4 chips (8 cores) per host.
    v5litepod-N, v5e-N, v6e-N
                    N chips of one TensorCore; one host up to 8 chips, 4 chips per host in larger slices.
  """
  m = re.match(r"^(v2|v3|v4|v5p|v5litepod|v5e|v6e)-(\d+)$", accelerator_type or "")
  if not m:
    raise UsageError(f"--accelerator_type={accelerator_type!r}: expected e.g. v3-8, v4-32, v5litepod-16, "
                     "v6e-8 (or give --hosts and --replicas for another type)")
  family, n = m.group(1), int(m.group(2))
  if family in ("v2", "v3"):
    hosts, replicas = max(1, n // 8), n
  elif family in ("v4", "v5p"):
    hosts, replicas = max(1, n // 8), max(1, n // 2)
  else:
    hosts, replicas = (1 if n <= 8 else n // 4), n
  return hosts, replicas


def define_flags(fv, argv):
  d = dict(flag_values=fv)
  config_flags.DEFINE_config_file("config", None, "Experiment file inside --source (experiments/*.py[:arg]); "
                                  "--config.<key>=<value> overrides are forwarded.", sys_argv=argv, **d)
  flags.DEFINE_string("name", None, "TPU VM name (lower-case letters, digits, '-').", **d)
  flags.DEFINE_string("zone", None, "Zone, e.g. europe-west4-a.", **d)
  flags.DEFINE_string("project", None, "Google Cloud project (default: gcloud's configured project).", **d)
  flags.DEFINE_string("service_account", None, "Service account of the VMs (default: the Compute Engine "
                      "default account); it needs read/write access to the bucket.", **d)
  flags.DEFINE_string("accelerator_type", None, "TPU type, e.g. v3-8, v3-32, v4-32, v5litepod-16.", **d)
  flags.DEFINE_string("runtime_version", None, "TPU software version (default: the OS-only image of the TPU "
                      "family, e.g. tpu-ubuntu2204-base for v2-v4, v2-alpha-tpuv6e for v6e).", **d)
  flags.DEFINE_enum("tensorflow", "tensorflow-tpu", ["tensorflow-tpu", "tensorflow"], "TensorFlow "
                    f"distribution installed on the VMs, at the version {TPU_CONSTRAINTS} pins.", **d)
  flags.DEFINE_boolean("spot", False, "Create a Spot TPU (preemptible; the job saves on SIGTERM).", **d)
  flags.DEFINE_string("workdir", None, "Run folder, gs://BUCKET/...", **d)
  flags.DEFINE_string("data_dir", None, "TFDS data_dir, gs://BUCKET/... (not needed for synthetic data).", **d)
  flags.DEFINE_integer("steps_per_loop", 10, "train.steps_per_loop: G steps per TPU call.", lower_bound=1, **d)
  flags.DEFINE_string("mixed_precision", "bfloat16", "train.mixed_precision on the TPU.", **d)
  flags.DEFINE_string("source", launch_lib.REPO, "Source tree shipped to the VMs (its git HEAD).", **d)
  flags.DEFINE_string("python", "python3.11", "Python the job's virtual environment is made from on the VMs "
                      "(uv brings it where the image has none).", **d)
  flags.DEFINE_integer("hosts", None, "Override the number of hosts of --accelerator_type.", lower_bound=1, **d)
  flags.DEFINE_integer("replicas", None, "Override the number of replicas (TPU devices).", lower_bound=1, **d)
  flags.DEFINE_integer("stop_timeout", 600, "Seconds to wait for the job's final checkpoint before deleting.",
                       lower_bound=0, **d)
  flags.DEFINE_boolean("keep_vm", False, "Do not delete the TPU VM at the end.", **d)
  flags.DEFINE_boolean("dry_run", False, "Print the commands and run nothing.", **d)


def _gcloud_tpu(fv, verb, *args) -> list:
  cmd = ["gcloud", "compute", "tpus", "tpu-vm", verb, *args, f"--zone={fv.zone}"]
  return cmd + ([f"--project={fv.project}"] if fv.project else [])


def body(fv, args):
  command.require(fv, "config", "name", "zone", "accelerator_type", "workdir")
  launch_lib.check_name("name", fv.name)
  launch_lib.check_zone(fv.zone)
  launch_lib.check_gs("workdir", fv.workdir)
  config = fv["config"].value
  if config.data.name != "synthetic":
    if not fv.data_dir and not config.data.data_dir:
      raise UsageError(f"dataset {config.data.name} needs --data_dir=gs://BUCKET/... (its prepared TFDS data)")
  data_dir = fv.data_dir or (config.data.data_dir or None)
  if data_dir:
    launch_lib.check_gs("data_dir", data_dir)
  launch_lib.check_schedule(config, fv.steps_per_loop)
  if fv.hosts and fv.replicas:
    hosts, replicas = fv.hosts, fv.replicas
  else:
    hosts, replicas = tpu_topology(fv.accelerator_type)
    hosts, replicas = fv.hosts or hosts, fv.replicas or replicas
  lines = launch_lib.batch_lines(int(config.batch_size), hosts, replicas, "TPU replicas")
  pod = hosts > 1
  version = fv.runtime_version or base_image(fv.accelerator_type)
  pin = tensorflow_pin(fv.tensorflow)
  config_arg = launch_lib.remote_config_arg(fv["config"].config_filename, fv.source)

  train = [launch_lib.VENV_PYTHON, "-m", "dvd_gan.train", f"--config={config_arg}", f"--workdir={fv.workdir}",
           "--strategy=tpu", f"--tpu={fv.name if pod else 'local'}",
           f"--config.train.steps_per_loop={fv.steps_per_loop}",
           f"--config.train.mixed_precision={fv.mixed_precision}"]
  if data_dir:
    train.append(f"--config.data.data_dir={data_dir}")
  train += launch_lib.config_overrides(fv)
  tarball = launch_lib.local_tarball(fv.name)
  run_on = "--worker=0" if pod else "--worker=all"
  create = _gcloud_tpu(fv, "create", fv.name, f"--accelerator-type={fv.accelerator_type}",
                       f"--version={version}", "--scopes=https://www.googleapis.com/auth/cloud-platform")
  create += ([f"--service-account={fv.service_account}"] if fv.service_account else [])
  create += ["--spot"] if fv.spot else []
  plan = [
      ("run", create),
      ("mark:created", None),
      ("run", launch_lib.package_command(fv.source, tarball)),
      ("run", _gcloud_tpu(fv, "scp", tarball, f"{fv.name}:{launch_lib.REMOTE_TARBALL}", "--worker=all")),
      ("run", _gcloud_tpu(fv, "ssh", fv.name, "--worker=all",
                          f"--command={launch_lib.install_command(fv.tensorflow, TPU_CONSTRAINTS, fv.python)}")),
      ("mark:started", None),
      ("run", _gcloud_tpu(fv, "ssh", fv.name, run_on, "--command=" + launch_lib.start_command(
          train, env="TPU_LOAD_LIBRARY=0" if pod else ""))),
      ("stream", _gcloud_tpu(fv, "ssh", fv.name, "--worker=0", f"--command={launch_lib.stream_command()}")),
  ]
  cleanup = [("started", _gcloud_tpu(fv, "ssh", fv.name, run_on,
                                     f"--command={launch_lib.stop_command(fv.stop_timeout)}"))]
  if not fv.keep_vm:
    cleanup.append(("created", _gcloud_tpu(fv, "delete", fv.name, "--quiet")))
  header = (f"# {fv.accelerator_type} ({version}, {pin} and the versions of {TPU_CONSTRAINTS}): "
            f"{'pod slice' if pod else 'single host'}")
  return launch_lib.run_plan(fv.dry_run, [header, *lines], plan, cleanup)


def main(argv=None):
  return launch_lib.launcher_main(argv, define_flags, body, __doc__)


if __name__ == "__main__":
  command.run(main)
