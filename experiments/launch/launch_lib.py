"""Shared pieces of the launch scripts (tpu_vm.py, gpu_multi_worker.py): flag checks, the config's batch
arithmetic, the remote job (detached on the VM, its log streamed back), commands printed then run, and the
cleanup that runs at the end, on failure and on interrupt (the scripts' `trap`).

Nothing here needs gcloud: the scripts only build command lines (argument lists, never a local shell), print
them, and with --dry_run stop there.
"""
import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile

from ml_collections import config_flags

from eval import command
from eval.command import UsageError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The remote job's files, in the VM user's home folder.
REMOTE_DIR = "~/dvd-gan"
REMOTE_TARBALL = "~/dvd-gan-src.tar.gz"
LOG = "~/dvd-gan-train.log"
PID = "~/dvd-gan-train.pid"
STATUS = "~/dvd-gan-train.status"
# The job's own virtual environment (install_steps), beside the source so that the job's relative
# `.venv/bin/python` (start_command runs it in REMOTE_DIR) names it.
REMOTE_VENV = f"{REMOTE_DIR}/.venv"
VENV_PYTHON = ".venv/bin/python"

_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,50}[a-z0-9])?$")
_ZONE_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+-[a-z]$")


# ---- flag checks -----------------------------------------------------------------------------------------

def check_name(flag: str, value: str) -> None:
  if not _NAME_RE.match(value or ""):
    raise UsageError(f"--{flag}={value!r}: lower-case letters, digits and '-', starting with a letter (at most "
                     "52 characters)")


def check_zone(value: str) -> None:
  if not _ZONE_RE.match(value or ""):
    raise UsageError(f"--zone={value!r} is not a zone name such as europe-west4-a")


def check_gs(flag: str, value: str) -> None:
  """Workdirs and data on the VMs must be in a GCS bucket: the VMs are deleted at the end."""
  if not re.match(r"^gs://[a-z0-9][-_.a-z0-9]*[a-z0-9](/.*)?$", value or ""):
    raise UsageError(f"--{flag} must be a gs://BUCKET/... path (the VMs and their disks are deleted at the "
                     f"end), got {value}")


def remote_config_arg(config_arg: str, source: str) -> str:
  """`--config` as the VM sees it: the path relative to the shipped source folder (`:arg` kept)."""
  path, sep, arg = config_arg.partition(":")
  rel = os.path.relpath(os.path.abspath(path), os.path.abspath(source))
  if rel.startswith(".."):
    raise UsageError(f"--config {path} is outside --source {source}, which is what is shipped to the VMs")
  return rel.replace(os.sep, "/") + sep + arg


def config_overrides(fv) -> list:
  """The `--config.key=value` overrides given on the command line, as flags for dvd_gan.train (strings as
  given, other values as Python literals, which is how ml_collections parses them back)."""
  overrides = config_flags.get_override_values(fv["config"])
  return [f"--config.{key}={value if isinstance(value, str) else repr(value)}" for key, value in overrides.items()]


def check_schedule(config, steps_per_loop: int) -> None:
  from dvd_gan.training.config import check_schedule as check  # noqa: PLC0415 - no TensorFlow import
  train = config.train.copy_and_resolve_references()
  train.steps_per_loop = steps_per_loop
  try:
    check(train, config.eval.get("every_steps", 0))
  except ValueError as e:
    raise UsageError(f"{e} (set --steps_per_loop, or the intervals with --config.<section>.<key>=...)") from None


# ---- batch arithmetic ------------------------------------------------------------------------------------

def batch_lines(global_batch: int, hosts: int, replicas: int, what: str = "replicas") -> list:
  """The per-replica and per-host batch of a multi-host job, as comment lines; UsageError if uneven.

  Each host runs its own input pipeline (strategy.distribute_datasets_from_function calls the dataset
  function once per host, with input_pipeline_id = host index) and feeds its own replicas.
  """
  if replicas % hosts:
    raise UsageError(f"{replicas} {what} cannot be spread evenly over {hosts} hosts")
  if global_batch % replicas:
    raise UsageError(f"config batch_size {global_batch} is not divisible by the {replicas} {what} of this job "
                     f"(set --config.batch_size to a multiple of {replicas})")
  per_replica, per_host = global_batch // replicas, global_batch // hosts
  return [f"# {hosts} host(s) x {replicas // hosts} {what} per host = {replicas} {what}",
          f"# global batch {global_batch} = {replicas} {what} x {per_replica} per replica = {hosts} host(s) x "
          f"{per_host} per host (each host reads its own shard: distribute_datasets_from_function)"]


# ---- the remote job ---------------------------------------------------------------------------------------

def package_command(source: str, tarball: str) -> list:
  """The committed tree of `source` (git HEAD) as a tarball: what the VMs run is a known commit."""
  return ["git", "-C", source, "archive", "--format=tar.gz", f"--output={tarball}", "HEAD"]


def local_tarball(name: str) -> str:
  return os.path.join(tempfile.gettempdir(), f"dvd-gan-src-{name}.tar.gz")


def canonical_name(name: str) -> str:
  """A distribution's name as pip compares them (PEP 503: runs of -_. as one -, lower case)."""
  return re.sub(r"[-_.]+", "-", name.strip()).lower()


def constraint_pins(constraints: str) -> dict:
  """{canonical name: version} of a constraints file of the repository (`name==version` lines)."""
  pins = {}
  with open(os.path.join(REPO, constraints), encoding="utf-8") as f:
    for line in f:
      line = line.split("#")[0].strip()
      if line:
        name, _, version = line.partition("==")
        pins[canonical_name(name)] = version.strip()
  return pins


def install_steps(source: str, venv: str, tensorflow: str, constraints: str, python: str = "python3.11") -> list:
  """Shell commands that make a new virtual environment `venv` and install the package of `source` into it
  under `source/constraints` (constraints-tpu.txt: the TPU lane of CI; constraints.txt: the newest lane),
  with `tensorflow` as the distribution of the `tensorflow` module (setup.py, DVD_GAN_TENSORFLOW), then
  check the environment with `pip check`: a conflict ends the install with one line `error: ...`.

  The same commands run on the VMs (tpu_vm.py, gpu_multi_worker.py) and, with the CPU wheel, in CI's TPU
  lane (.ci/run through local_install.py). `python` is the interpreter the venv is made from; where the
  image has none (or one without venv), uv brings that Python version (VM images carry different Pythons;
  the constraints files are made on Python 3.11).
  """
  version = re.sub(r"^python", "", python) or "3"
  uv = "~/.local/bin/uv"
  check = f"{venv}.pip-check.txt"
  return [
      f'PY=$(command -v {python} || true); if [ -z "$PY" ] || ! "$PY" -c "import ensurepip, venv" 2>/dev/null; '
      f'then python3 -m pip install --quiet --user uv && {uv} python install --quiet {version} && '
      f'PY=$({uv} python find {version}); fi; rm -rf {venv} && "$PY" -m venv {venv}',
      f"{venv}/bin/python -m pip install --quiet --upgrade pip",
      f"DVD_GAN_TENSORFLOW='{tensorflow}' {venv}/bin/python -m pip install --quiet -c {source}/{constraints} "
      f"-e {source}",
      f"{venv}/bin/python -m pip check > {check} 2>&1 || {{ echo \"error: pip check found a conflict in "
      f"{venv}: $(head -n 1 {check})\" >&2; exit 3; }}",
  ]


def install_command(tensorflow: str, constraints: str, python: str = "python3.11") -> str:
  """Remote shell: unpack the source and install it into REMOTE_VENV (`install_steps`); the job then runs
  REMOTE_VENV's Python. The first failing step ends the command with its exit status."""
  steps = [f"rm -rf {REMOTE_DIR} && mkdir -p {REMOTE_DIR}", f"tar -xzf {REMOTE_TARBALL} -C {REMOTE_DIR}",
           *install_steps(REMOTE_DIR, REMOTE_VENV, tensorflow, constraints, python)]
  return " && ".join(f"{{ {s}; }}" if ";" in s else s for s in steps)


def start_command(train: list, env: str = "") -> str:
  """Remote shell: starts `train` (argument list) detached from the ssh session (it survives a dropped
  connection), writing its log, its pid and, when it ends, its exit status."""
  job = shlex.join(train)
  if env:
    job = f"{env} {job}"
  # In double quotes for the VM's login shell: \ before " $ ` \ hands them to the inner bash unchanged
  # (and leaves $! and $? to it).
  # The pid and status files are written under a temporary name and renamed: a reader polling for them
  # never sees one created but still empty.
  quoted = re.sub(r'(["$`\\])', r"\\\1", f"{job} & echo $! > {PID}.tmp; mv {PID}.tmp {PID}; wait $!; "
                  f"echo $? > {STATUS}.tmp; mv {STATUS}.tmp {STATUS}")
  # Only nohup goes to the background, with every stream redirected: ssh then returns at once.
  return f'rm -f {PID} {STATUS}; cd {REMOTE_DIR} || exit 1; nohup bash -c "{quoted}" > {LOG} 2>&1 < /dev/null &'


def stream_command() -> str:
  """Remote shell: prints the job's log as it grows until the job ends; exits with the job's status."""
  return (f"while [ ! -f {PID} ]; do sleep 1; done; tail -n +1 -F --pid=$(cat {PID}) {LOG} 2>/dev/null; "
          f"while [ ! -f {STATUS} ]; do sleep 1; done; exit $(cat {STATUS})")


def stop_command(timeout: int) -> str:
  """Remote shell: SIGTERM to the job (it finishes its current call of steps_per_loop steps, saves a
  checkpoint and exits) and waits for it, at most `timeout` seconds."""
  return (f"for i in $(seq 30); do [ -f {PID} ] && break; sleep 1; done; "  # a job started a moment ago
          f"if [ -f {PID} ] && kill -TERM $(cat {PID}) 2>/dev/null; then "
          f"timeout {int(timeout)} tail --pid=$(cat {PID}) -f /dev/null; fi; true")


# ---- running ---------------------------------------------------------------------------------------------

class CommandFailed(Exception):
  def __init__(self, cmd, code):
    super().__init__(f"command failed with exit status {code}: {shlex.join(cmd)}")
    self.code = code


class Runner:
  """Prints every command (`+ ...`) and runs it unless dry_run. Argument lists only: no local shell."""

  def __init__(self, dry_run: bool, out=None):
    self.dry_run = dry_run
    self.out = out or sys.stdout

  def say(self, line: str = "") -> None:
    print(line, file=self.out, flush=True)

  def show(self, cmd) -> None:
    self.say("+ " + shlex.join(cmd))

  def run(self, cmd, check: bool = True) -> int:
    self.show(cmd)
    if self.dry_run:
      return 0
    code = subprocess.run(cmd, check=False).returncode
    if check and code:
      raise CommandFailed(cmd, code)
    return code

  def start(self, cmd):
    """Starts `cmd` without waiting (a Popen, or None in a dry run)."""
    self.show(cmd)
    return None if self.dry_run else subprocess.Popen(cmd)

  def stream(self, cmd, attempts: int = 5) -> int:
    """Runs a log-streaming ssh command; reconnects when ssh itself fails (exit 255); returns the status."""
    code = self.run(cmd, check=False)
    while code == 255 and attempts > 1:
      attempts -= 1
      self.say("# ssh connection lost; the job keeps running on the VM; reconnecting")
      code = self.run(cmd, check=False)
    return code


@contextlib.contextmanager
def signals_raise():
  """SIGTERM / SIGHUP to the launcher raise SystemExit, so that its cleanup (`finally`) runs: the trap."""
  def handler(signum, frame):
    raise SystemExit(128 + signum)
  previous = {}
  for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
    if sig is not None:
      previous[sig] = signal.signal(sig, handler)
  try:
    yield
  finally:
    for sig, h in previous.items():
      signal.signal(sig, h)


@contextlib.contextmanager
def uninterruptible():
  """Ctrl-C ignored while the cleanup deletes the machines (an interrupted delete would leave them billed)."""
  previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
  try:
    yield
  finally:
    signal.signal(signal.SIGINT, previous)


def execute(runner: Runner, plan: list, cleanup: list) -> int:
  """Runs `plan` then, whatever happens (end, failure, Ctrl-C, SIGTERM/SIGHUP), the `cleanup` steps whose
  condition was reached.

  plan: [(kind, cmd)] with kind "run" (must succeed), "stream" (its exit status is the job's) or a label
    string "mark:<name>" that records how far the plan got (cmd None).
  cleanup: [(mark, cmd)]: cmd runs if the plan reached `mark`.
  Returns the job's exit status (0 in a dry run).
  """
  runner.say("# plan:")
  for kind, cmd in plan:
    if cmd is not None:
      runner.say(("#   " if kind != "stream" else "#   (streams the log) ") + shlex.join(cmd))
  runner.say("# cleanup, at the end and on failure or interrupt (the trap):")
  for _, cmd in cleanup:
    runner.say("#   " + shlex.join(cmd))
  if runner.dry_run:
    runner.say("# --dry_run: nothing was run")
    return 0
  reached, status = set(), 1
  with signals_raise():
    try:
      for kind, cmd in plan:
        if kind.startswith("mark:"):
          reached.add(kind[5:])
        elif kind == "stream":
          status = runner.stream(cmd)
        else:
          runner.run(cmd)
    finally:
      with uninterruptible():
        for mark, cmd in cleanup:
          if mark in reached:
            runner.run(cmd, check=False)
  return status


def run_plan(dry_run: bool, lines: list, plan: list, cleanup: list) -> int:
  """Prints `lines` (the header and the batch split), then runs `plan` and `cleanup` (see `execute`); a
  failed command is a one-line error and exit status 1."""
  runner = Runner(dry_run)
  for line in lines:
    runner.say(line)
  try:
    return execute(runner, plan, cleanup)
  except CommandFailed as e:
    print(f"error: {e}", file=sys.stderr, flush=True)
    return 1


def launcher_main(argv, define_flags, body, usage: str) -> int:
  """The launch scripts' `main`: eval.command's convention, as every command of the project."""
  return command.main(argv, define_flags=define_flags, body=body, usage=usage)
