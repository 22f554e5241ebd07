"""`python -m eval protocols` and `python -m eval score --protocol=NAME`: scoring by protocol name.

  protocols                                        list the registered protocols and their settings
  score --protocol=NAME --fake=PATH [--real=PATH|S.npz] [--stats_dir=DIR --dataset=D --split=S]
        [--weights=W --json=F --batch_size=8 --stride=S --frames=T]

`score` computes every metric of the protocol with the protocol's network, layers, frames, numbers of videos
and repeats (the individual commands' flags, fixed by name). --fake: generated videos (directory, file, glob;
the first `num_fake` are scored). --real: real videos or a statistics file; with --stats_dir, the real
statistics of real videos are computed once into DIR and reused by every later call (refused if they were
made differently). --stride / --frames apply only where the protocol leaves them open (real videos' stride;
frames: the first video's length). Output: one `mean +- std` line per metric, then one line per metric
`<protocol>/<metric>: <value>` (the last lines).
"""
import json
import sys

from absl import flags

from eval import __version__, api, command, io, real_stats, scoring, video_io
from eval.errors import EvalError
from eval.features import extract_layers
from eval.protocols import format_protocol, get_protocol, protocol_names
from eval.scoring import take
from eval.stats import is_stats_file



def _define_score_flags(fv, argv):
  del argv
  d = dict(flag_values=fv)
  flags.DEFINE_string("protocol", None, "Protocol name (python -m eval protocols).", **d)
  flags.DEFINE_string("fake", None, "Generated videos: directory, file or glob.", **d)
  flags.DEFINE_string("real", None, "Real videos (directory, file, glob) or statistics file (.npz).", **d)
  flags.DEFINE_string("stats_dir", None, "Folder of cached real statistics (with --real videos).", **d)
  flags.DEFINE_string("dataset", None, "Dataset of the real videos (default: the protocol's).", **d)
  flags.DEFINE_string("split", None, "Split of the real videos (default: the protocol's).", **d)
  flags.DEFINE_string("weights", None, "Weights of the protocol's network (default: its packaged source).", **d)
  flags.DEFINE_integer("batch_size", 8, "Videos per forward pass.", lower_bound=1, **d)
  flags.DEFINE_integer("stride", None, "Frame stride of the real videos, when the protocol leaves it open.",
                       lower_bound=1, **d)
  flags.DEFINE_integer("frames", None, "Frames per video, when the protocol leaves it open.", lower_bound=1, **d)
  flags.DEFINE_string("json", None, "Also write the figures and their settings to this JSON file.", **d)
  flags.DEFINE_boolean("progress", True, "Progress bar on stderr.", **d)


def _open_setting(fv, name: str, fixed):
  given = getattr(fv, name)
  if fixed is not None and given is not None and given != fixed:
    raise command.UsageError(f"--{name}={given}: the protocol fixes {name} = {fixed}")
  return fixed if fixed is not None else given


def _real_stats(fv, protocol, network, frames, stride):
  """The real statistics: a statistics file, or real videos (cached in --stats_dir when given)."""
  if fv.real is None:
    raise command.UsageError(f"--real is required: protocol {protocol.name} compares with real videos")
  if is_stats_file(fv.real):
    if fv.stats_dir:
      raise command.UsageError("--stats_dir caches statistics of real VIDEOS; --real is already statistics")
    stats = real_stats.load(fv.real)
    if stats.metadata.get("layer") != protocol.real_layer:
      raise EvalError(f"{fv.real} holds {stats.metadata.get('layer')} features; protocol {protocol.name} "
                      f"needs {protocol.real_layer}")
    if protocol.num_real is not None and stats.num_items != protocol.num_real:
      raise EvalError(f"{fv.real} holds statistics of {stats.num_items} videos; protocol {protocol.name} "
                      f"compares with {protocol.num_real}")
    return stats
  dataset, split = fv.dataset or protocol.dataset or "videos", fv.split or protocol.split
  min_frames = getattr(network, "min_frames", 1)

  classes = []

  def videos():
    classes.clear()
    found = video_io.iter_videos(fv.real, frames=frames, stride=stride, min_frames=min_frames)
    return video_io.with_classes(found, fv.real, classes) if protocol.needs_labels else found

  if fv.stats_dir:
    first = next(iter(videos()))[1]  # frames and resolution name the cached file
    return real_stats.load_or_compute(fv.stats_dir, protocol, network, dataset=dataset, split=split,
                                      frames=first.shape[0], stride=stride, resolution=list(first.shape[1:3]),
                                      videos_fn=videos, batch_size=fv.batch_size, progress=fv.progress,
                                      log=lambda s: print(s, file=sys.stderr),
                                      labels=classes if protocol.needs_labels else None)
  vids = videos() if protocol.num_real is None else take(videos(), protocol.num_real, "real videos")
  stats = extract_layers(vids, network, (protocol.real_layer,), batch_size=fv.batch_size, progress=fv.progress,
                         name=fv.real, store_features=protocol.needs_real_features,
                         metadata={"stride": stride, "dataset": dataset, "split": split,
                                   "source": fv.real})[protocol.real_layer]
  if protocol.needs_labels:
    stats.set_labels(classes[:stats.num_items])
  return stats


def _score(fv, args):
  del args
  command.require(fv, "protocol", "fake")
  protocol = get_protocol(fv.protocol)
  frames = _open_setting(fv, "frames", protocol.frames)
  stride = _open_setting(fv, "stride", protocol.stride) or 1
  if fv.json and io.missing_output_folder(fv.json):
    raise EvalError(f"output directory does not exist: {io.missing_output_folder(fv.json)}")
  video_io.list_video_files(fv.fake)  # a bad path fails before the network loads
  network = api.get_feature_network(protocol.network, fv.weights)
  real = _real_stats(fv, protocol, network, frames, stride) if protocol.needs_real else None
  if frames is None and real is not None:
    frames = real.metadata.get("frames")
  fake_videos = video_io.iter_videos(fv.fake, frames=frames, min_frames=getattr(network, "min_frames", 1))
  classes = None
  if protocol.needs_labels:
    classes = []
    fake_videos = video_io.with_classes(fake_videos, fv.fake, classes)
  fake = scoring.fake_features(protocol, fake_videos, network, batch_size=fv.batch_size, progress=fv.progress,
                               metadata={"source": fv.fake}, labels=classes)
  result = scoring.score_features(protocol, fake, real)
  for line in result.lines():
    print(line)
  if fv.json:
    io.write_text(fv.json, json.dumps({**result.to_dict(), "version": __version__}, indent=2, sort_keys=True,
                                      default=str))
  for key, value in result.values().items():
    print(f"{key}: {value:.4f}")


def _list(fv, args):
  del fv, args
  for name in protocol_names():
    print(format_protocol(get_protocol(name)))


# The sub-commands of `python -m eval` defined here (eval.cli.COMMANDS), in eval.command's shape.
COMMANDS = {
    "protocols": dict(define_flags=lambda fv, argv: None, body=_list, usage=__doc__),
    "score": dict(define_flags=_define_score_flags, body=_score, usage=__doc__),
}
