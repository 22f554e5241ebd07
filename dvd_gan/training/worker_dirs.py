"""The private checkpoint folders of the non-chief workers: `<workdir>/tmp_worker_checkpoints/<task>`.

MultiWorkerMirroredStrategy needs every worker to take part in a save; the non-chief workers write theirs to a
folder of their own and delete it at the end of the run. A worker killed before that leaves it behind.
`remove_leftovers`, called at every start, deletes such leftovers without touching a folder that a live worker
of the run uses: a folder is named by the worker's task ("worker-1"), unique among the running workers, so

  - a non-chief worker deletes only its own task's folder (a killed earlier process of the same task left it);
  - the chief deletes the folders of tasks that are not in the current cluster (a run restarted with fewer
    workers, or folders named by process id), never one of a task of the cluster, which may be starting.
"""
from eval import io as eio

ROOT = "tmp_worker_checkpoints"


def _tasks(strategy) -> tuple:
  """(this process's task name or None, the task names of the cluster) of a multi-worker strategy; (None, ())
  for every other strategy."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not getattr(resolver, "task_type", None):
    return None, ()
  spec = resolver.cluster_spec().as_dict()
  names = tuple(f"{job}-{i}" for job, tasks in spec.items()
                for i in (range(len(tasks)) if isinstance(tasks, (list, tuple)) else sorted(tasks)))
  return f"{resolver.task_type}-{resolver.task_id}", names


def worker_dir(workdir: str, task: str) -> str:
  """`<workdir>/tmp_worker_checkpoints/<task>`."""
  return eio.join(workdir, ROOT, task)


def remove_leftovers(workdir: str, strategy, *, chief: bool, log=print) -> str | None:
  """Deletes the worker folders left by killed workers (module docstring); returns this process's task name
  (None outside a multi-worker cluster), which names its own folder (`checkpointing.make_manager`)."""
  own, live = _tasks(strategy)
  root = eio.join(workdir, ROOT)
  try:
    names = eio.listdir(root) if eio.isdir(root) else []
  except eio.io_errors():
    names = []
  if chief:
    stale = [n for n in names if n not in live]
  else:
    stale = [n for n in names if n == own]
  for name in stale:
    eio.remove(eio.join(root, name))
  if stale:
    log(f"removed {len(stale)} folder(s) left in {root} by killed workers: {', '.join(stale)}")
  return own
