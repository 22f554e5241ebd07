"""Runs the launchers' install steps on this machine, into a new virtual environment.

    python experiments/launch/local_install.py --venv=/tmp/tpu-lane [--tensorflow=tensorflow] \
        [--constraints=constraints-tpu.txt]

The commands are the ones tpu_vm.py runs on every TPU host (`launch_lib.install_steps`): a new virtual
environment, this checkout installed into it with every package at the versions of --constraints and
--tensorflow as the distribution of the `tensorflow` module, then `pip check` (a conflict ends with one
line `error: ...` and exit status 3). With the default --tensorflow=tensorflow it installs the CPU wheel of
the version that tensorflow-tpu has on the TPU: CI's TPU lane is built this way (.ci/run), so the
commands the TPU VMs run are tested on every CI run. See docs/tensorflow_versions.md.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from absl import flags

import launch_lib
from eval import command


def define_flags(fv, argv):
  d = dict(flag_values=fv)
  flags.DEFINE_string("venv", None, "Folder of the new virtual environment (replaced if it exists).", **d)
  flags.DEFINE_enum("tensorflow", "tensorflow", ["tensorflow", "tensorflow-tpu", "tensorflow[and-cuda]"],
                    "Distribution of the tensorflow module.", **d)
  flags.DEFINE_enum("constraints", "constraints-tpu.txt", ["constraints-tpu.txt", "constraints.txt"],
                    "Constraints file of the repository.", **d)
  flags.DEFINE_string("python", "python3.11", "Python the environment is made from.", **d)


def body(fv, args):
  command.require(fv, "venv")
  venv = os.path.abspath(fv.venv)
  for step in launch_lib.install_steps(launch_lib.REPO, venv, fv.tensorflow, fv.constraints, fv.python):
    print(f"+ {step}", flush=True)
    code = subprocess.run(["bash", "-c", step], check=False).returncode
    if code:
      return code
  return 0


def main(argv=None):
  return launch_lib.launcher_main(argv, define_flags, body, __doc__)


if __name__ == "__main__":
  command.run(main)
