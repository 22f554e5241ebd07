"""One trainer per workdir: a lock file `<workdir>/train.lock`, kept fresh by a heartbeat, released at exit.

The lock file is JSON: {"host", "pid", "since" (UTC, ISO 8601), "heartbeat" (Unix seconds of the last
refresh), "token" (unique per acquisition), "boot" and "start" (which process on which machine: Linux boot
id and pid namespace, and the process's start time, so that a reused pid is not taken for the holder)}.

A second trainer on a workdir in use stops before it writes anything, with a one-line `UserError` naming the
holder (host, pid, since when, last heartbeat). A lock whose holder is gone is taken over with a warning
line: its process is dead (same host, boot and pid namespace: checked at once), or it has not refreshed the
lock for `STALE_SECONDS` (any host; the clocks of the hosts must agree to well within that time). A holder
refreshes the lock every `HEARTBEAT_SECONDS` from a daemon thread and removes it on every exit of
`train()` (normal end, signal stop, exception). A process killed with SIGKILL, or a machine lost, leaves the
lock behind: on the same machine the next trainer takes it over at once (dead pid); from another machine
after `STALE_SECONDS`. To go on sooner, delete the lock file (only when no trainer runs there).

What each filesystem guarantees:

  Local disks (a path without `scheme://`, NFS included): the lock is created with a hard link from a
    complete temporary file (link(2) fails if the name exists: an atomic create-if-absent, also on NFS v3+),
    so of two trainers starting together exactly one gets it. Taking over a stale lock, refreshing it and
    releasing it happen under an exclusive lockf(3) on a regular file `MUTEX_FILE` in the workdir (fcntl
    byte-range locks: what NFS clients support, through the NFS server's lock manager), re-checking the
    lock's token first: a trainer never deletes or overwrites a lock another trainer has just taken.
  Mounted filesystems without hard links (gcsfuse, FAT): the lock is created with open(O_CREAT | O_EXCL)
    and then written; a reader that finds it empty reads again once before calling it unreadable. O_EXCL
    and lockf are as atomic as the mount makes them: gcsfuse checks them only within one machine, so two
    trainers on two machines sharing a bucket through gcsfuse should give the `gs://` path instead.
  gs:// and every other tf.io.gfile filesystem: gfile has no create-if-absent. A trainer reads the lock; if
    there is none (or a stale one) it writes its own record, waits `SETTLE_SECONDS`, reads the lock back
    and holds it only if it finds its own token (the last writer wins; the loser sees the winner's fresh
    record and stops with the same one-line error). GCS reads see the latest completed write, so two
    trainers that start together are told apart unless one of them takes longer than `SETTLE_SECONDS`
    between its read and its write (a stalled process or network): then both can believe they hold the
    lock. The heartbeat notices when the lock it refreshes carries another token, logs a warning and stops
    refreshing (`lost`), but the run goes on. The same read-then-write race applies to taking over a stale
    lock and to a refresh racing a takeover.

Local locks use the OS's own calls (link, lockf, open; tf.io.gfile has neither link nor locks), so taking
one does not load TensorFlow. In multi-worker runs only the chief takes the lock (`is_chief_task`); the
other workers write only their own temporary folders.
"""
import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
import threading
import time
import uuid

from dvd_gan.errors import UserError
from eval import io as eio
from eval.errors import one_line

LOCK_FILE = "train.lock"
HEARTBEAT_SECONDS = 30.0  # how often a holder refreshes the lock
STALE_SECONDS = 600.0  # no refresh for this long: the holder is gone (20 missed heartbeats)
SETTLE_SECONDS = 5.0  # object stores: the wait between writing a record and reading it back
MUTEX_FILE = ".train.lock.mutex"  # local disks: lockf(3) on it serialises takeover, refresh and release
EMPTY_RETRY_SECONDS = 0.5  # local disks without hard links: an empty lock file is read again after this
_NO_HARD_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS)  # link(2) on gcsfuse, FAT, ...


def is_chief_task(strategy_name: str, tf_config: str | None = None) -> bool:
  """Whether this process is the chief of the run `train.strategy` = `strategy_name` describes, read from
  TF_CONFIG (`tf_config`, default the environment variable) before the strategy exists: "chief", or worker 0
  of a cluster without a chief. Every strategy but "multi_worker" runs as one client: the chief."""
  if strategy_name != "multi_worker":
    return True
  text = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
  try:  # a malformed TF_CONFIG: make_strategy reports it as the user's error
    spec = json.loads(text) if text else {}
    task = spec.get("task", {}) or {}
    kind, index = task.get("type"), int(task.get("index", 0) or 0)
  except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
    return True
  return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in (spec.get("cluster") or {}))


def _read_first_line(path: str) -> str:
  try:
    with open(path, encoding="utf-8") as f:  # /proc, not a user path
      return f.readline().strip()
  except OSError:
    return ""


def _machine() -> str:
  """This kernel's boot id and this process's pid namespace ("" where /proc has neither): a pid means the
  same process only within one boot and one pid namespace (containers sharing a host name do not)."""
  boot = _read_first_line("/proc/sys/kernel/random/boot_id")
  try:
    namespace = os.readlink("/proc/self/ns/pid")
  except OSError:
    namespace = ""
  return f"{boot}/{namespace}" if boot else ""


def _start_ticks(pid: int):
  """The start time of process `pid` in clock ticks since boot (/proc/<pid>/stat field 22); None when there
  is no such process or no /proc."""
  text = _read_first_line(f"/proc/{int(pid)}/stat")
  if not text or ")" not in text:
    return None
  fields = text.rsplit(")", 1)[1].split()
  return int(fields[19]) if len(fields) > 19 else None


def _pid_alive(pid: int, start) -> bool:
  """Whether the process `pid` (started at `start` ticks, when known) runs on this machine."""
  if start is not None and os.path.isdir("/proc"):
    return _start_ticks(pid) == start
  try:
    os.kill(int(pid), 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # alive, another user's
    return True
  return True


def _utc(seconds: float) -> str:
  return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(record: dict, now: float) -> str:
  """"host H, pid P, since <UTC time> (last heartbeat N s ago)" of a lock record."""
  try:
    age = f" (last heartbeat {max(now - float(record['heartbeat']), 0):.0f} s ago)"
  except (KeyError, TypeError, ValueError):  # no or a malformed heartbeat: gone_reason says "unreadable"
    age = ""
  return f"host {record.get('host', '?')}, pid {record.get('pid', '?')}, since {record.get('since', '?')}{age}"


def gone_reason(record: dict, now: float, stale_seconds: float = STALE_SECONDS):
  """Why the holder of `record` is gone ("its process has ended", "no heartbeat for N s"), or None when it
  may still run."""
  try:
    beat = float(record["heartbeat"])
    pid = int(record["pid"])
  except (KeyError, TypeError, ValueError):
    return "the lock file is unreadable"
  machine = _machine()
  if record.get("host") == socket.gethostname() and machine and record.get("boot") == machine:
    if not _pid_alive(pid, record.get("start")):
      return "its process has ended"
  if now - beat > stale_seconds:
    return f"no heartbeat for {now - beat:.0f} s (> {stale_seconds:.0f} s)"
  return None


class WorkdirLock:
  """`with WorkdirLock(workdir, log=print):` holds `<workdir>/train.lock` (see the module docstring).

  Entering raises UserError (one line) when another live trainer holds it; leaving (however the block ends)
  stops the heartbeat and removes the lock if it is still this holder's. `lost` turns True when the
  heartbeat finds another holder's token in the lock.
  """

  def __init__(self, workdir: str, *, log=print, heartbeat_seconds: float | None = None,
               stale_seconds: float | None = None, settle_seconds: float | None = None):
    self.workdir = str(workdir)
    self.path = eio.join(self.workdir, LOCK_FILE)
    self.local = not eio.has_scheme(self.workdir)
    self.log = log
    if settle_seconds is None:  # ram:// lives in this process's memory: no other process writes there
      settle_seconds = 0.0 if self.workdir.startswith("ram://") else SETTLE_SECONDS
    self.heartbeat_seconds = float(HEARTBEAT_SECONDS if heartbeat_seconds is None else heartbeat_seconds)
    self.stale_seconds = float(STALE_SECONDS if stale_seconds is None else stale_seconds)
    self.settle_seconds = float(settle_seconds)
    self.lost = False
    self.record = None
    self._created = False  # a local workdir this lock created: removed again at release when left empty
    self._stop = threading.Event()
    self._thread = None
    self._warned = False

  # ---- the record ---------------------------------------------------------------------------------------

  def _new_record(self) -> dict:
    now = time.time()
    return {"host": socket.gethostname(), "pid": os.getpid(), "since": _utc(now), "heartbeat": now,
            "token": uuid.uuid4().hex, "boot": _machine(), "start": _start_ticks(os.getpid())}

  def _read(self):
    """The lock's record; None when there is no lock; {} when it cannot be parsed."""
    try:
      text = self._read_text()
      if self.local and not text:  # an O_EXCL-created lock being written (_create_exclusive)
        time.sleep(EMPTY_RETRY_SECONDS)
        text = self._read_text()
    except FileNotFoundError:
      return None
    except eio.io_errors():
      if eio.exists(self.path):
        raise
      return None
    try:
      record = json.loads(text)
    except json.JSONDecodeError:
      return {}
    return record if isinstance(record, dict) else {}

  def _read_text(self) -> str:
    if self.local:  # local only, as _create_local
      with open(self.path, encoding="utf-8") as f:
        return f.read()
    return eio.read_text(self.path)

  def _busy(self, record: dict) -> UserError:
    return UserError(
        f"workdir {self.workdir} is in use by another trainer: {describe(record, time.time())}; a lock whose "
        f"holder has ended (same host) or sent no heartbeat for {self.stale_seconds:.0f} s is taken over; "
        f"if no trainer runs there, delete {self.path}")

  def _take_over_line(self, record: dict, reason: str) -> None:
    self.log(f"warning: taking over the lock of workdir {self.workdir} held by {describe(record, time.time())}: "
             f"{reason}")

  # ---- local disks: link(2) and flock(2) --------------------------------------------------------------

  @contextlib.contextmanager
  def _folder_locked(self):
    """An exclusive lockf(3) on the regular file `<workdir>/MUTEX_FILE`, opened for writing (NFS clients
    lock with fcntl byte-range locks, which a folder or a read-only file cannot take): serialises takeover,
    refresh and release between local processes. The file exists only while a process is inside: it is
    removed before the lock is let go, and a process that locked a removed file opens it again."""
    path = eio.join(self.workdir, MUTEX_FILE)
    while True:
      fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
      try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        try:
          current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
          current = False
        if current:
          try:
            yield
          finally:
            with contextlib.suppress(FileNotFoundError):
              os.remove(path)
          return
      finally:
        os.close(fd)  # closing releases the lock

  def _create_local(self, record: dict) -> bool:
    """Publishes `record` as the lock if there is none: a complete temporary file hard-linked to the name;
    where the filesystem has no hard links (gcsfuse), a file created with O_EXCL and then written (a reader
    that finds it empty retries once: `_read`)."""
    tmp = eio.join(self.workdir, f".{LOCK_FILE}-{record['token']}")
    with open(tmp, "w", encoding="utf-8") as f:  # local only: gfile has no link(2)
      json.dump(record, f)
      f.flush()
      os.fsync(f.fileno())
    try:
      os.link(tmp, self.path)
      return True
    except FileExistsError:
      return False
    except OSError as e:
      if e.errno not in _NO_HARD_LINKS:
        raise
    finally:
      os.remove(tmp)
    return self._create_exclusive(record)

  def _create_exclusive(self, record: dict) -> bool:
    try:
      fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
      return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
      json.dump(record, f)
      f.flush()
      os.fsync(f.fileno())
    return True

  def _acquire_local(self) -> None:
    for _ in range(10):  # each round: a lock appears, vanishes or is taken over between our reads
      record = self._new_record()
      if self._create_local(record):
        self.record = record
        return
      held = self._read()
      if held is None:
        continue
      reason = gone_reason(held, time.time(), self.stale_seconds)
      if reason is None:
        raise self._busy(held)
      with self._folder_locked():
        if self._read() == held:  # nobody took it over meanwhile
          self._take_over_line(held, reason)
          os.remove(self.path)
    raise UserError(f"could not take the lock {self.path}: other trainers keep taking it")

  # ---- object stores: write, wait, read back ----------------------------------------------------------

  def _acquire_gfile(self) -> None:
    for _ in range(3):
      held = self._read()
      if held is not None:
        reason = gone_reason(held, time.time(), self.stale_seconds)
        if reason is None:
          raise self._busy(held)
        self._take_over_line(held, reason)
      record = self._new_record()
      eio.write_json(self.path, record)
      time.sleep(self.settle_seconds)  # a trainer that read before our write lands writes within this time
      back = self._read()
      if back is not None and back.get("token") == record["token"]:
        self.record = record
        return
      if back and gone_reason(back, time.time(), self.stale_seconds) is None:
        raise self._busy(back)  # another trainer wrote after us: it holds the lock
    raise UserError(f"could not take the lock {self.path}: other trainers keep taking it")

  # ---- heartbeat and release --------------------------------------------------------------------------

  def _refresh(self) -> None:
    record = dict(self.record, heartbeat=time.time())
    if self.local:
      tmp = eio.join(self.workdir, f".{LOCK_FILE}-{record['token']}")
      with self._folder_locked():
        current = self._read()
        if current is None or current.get("token") != record["token"]:
          return self._lost(current)
        with open(tmp, "w", encoding="utf-8") as f:  # local only, as _create_local
          json.dump(record, f)
        os.replace(tmp, self.path)
    else:
      current = self._read()
      if current is None or current.get("token") != record["token"]:
        return self._lost(current)
      eio.write_json(self.path, record)
    self.record = record
    self._warned = False
    return None

  def _lost(self, current) -> None:
    self.lost = True
    who = describe(current, time.time()) if current else "nobody (the lock file was removed)"
    self.log(f"warning: the lock of workdir {self.workdir} is now held by {who}: another trainer may write "
             "to this workdir; this run stops refreshing the lock")

  def _beat(self) -> None:
    while not self._stop.wait(self.heartbeat_seconds) and not self.lost:
      try:
        self._refresh()
      except eio.io_errors() as e:  # a storage hiccup: the next beat tries again
        if not self._warned:
          self.log(f"warning: could not refresh the lock {self.path} (retrying every "
                   f"{self.heartbeat_seconds:.0f} s): {one_line(e)}")
          self._warned = True

  def acquire(self) -> "WorkdirLock":
    """Takes the lock (UserError, one line, when a live trainer holds it or the workdir cannot be written)."""
    try:
      if self.local:  # os only: a process can take a local lock without loading TensorFlow
        self._created = not os.path.isdir(self.workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self._acquire_local()
      else:
        eio.makedirs(self.workdir)
        self._acquire_gfile()
    except eio.io_errors() as e:  # e.g. a read-only folder or bucket: the user's workdir
      raise UserError(f"cannot take the lock {self.path}: {one_line(e)}") from e
    self._thread = threading.Thread(target=self._beat, name="workdir-lock-heartbeat", daemon=True)
    self._thread.start()
    return self

  def release(self) -> None:
    """Stops the heartbeat and removes the lock if it is still this holder's (never raises for storage)."""
    self._stop.set()
    if self._thread is not None:
      self._thread.join(timeout=60)
    if self.record is None or self.lost:
      return
    token, self.record = self.record["token"], None
    try:
      if self.local:
        with self._folder_locked():
          current = self._read()
          if current and current.get("token") == token:
            os.remove(self.path)
        if self._created:  # a run that stopped before writing anything leaves no empty folder behind
          with contextlib.suppress(OSError):
            os.rmdir(self.workdir)
      else:
        current = self._read()
        if current and current.get("token") == token:
          eio.remove(self.path)
    except eio.io_errors() as e:  # the next trainer finds a stale lock and takes it over
      self.log(f"warning: could not remove the lock {self.path}: {one_line(e)}")

  def __enter__(self):
    return self.acquire()

  def __exit__(self, *exc):
    self.release()


def for_run(workdir: str, chief: bool, log=print):
  """The lock a training process holds on `workdir`: the chief's WorkdirLock, nothing for other workers."""
  return WorkdirLock(workdir, log=log) if chief else contextlib.nullcontext()
