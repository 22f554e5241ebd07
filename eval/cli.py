"""The command line: `python -m eval <command> --flag=value ...` (absl flags, one FlagValues per call).

  features --videos=PATH --network=i3d-kinetics-400 --layer=logits|avgpool --out=F.npz
  stats    --videos=PATH | --tfds=NAME:SPLIT --out=S.npz [--num_videos=N --frames=T --stride=S --store_features]
  fvd      --real=PATH|S.npz --fake=PATH|S.npz [--json=F --repeats=10 --subset_size=M] (last line `FVD: x`)
  fid      --real=PATH|S.npz --fake=PATH|S.npz [--network=i3d-kinetics-600 --weights=W]  (last line `FID: x`)
  kvd      --real=PATH|S.npz --fake=PATH|S.npz [--num_subsets=100]                     (last line `KVD: x`)
  prdc     --real=PATH|F.npz --fake=PATH|F.npz [--k=5 --layer=avgpool|logits]
           (last four lines `precision: x`, `recall: x`, `density: x`, `coverage: x`)
  fvd_inf  --real=PATH|S.npz --fake=PATH|F.npz [--num_points=15 --min_size=M --draws=1]  (last line `FVD_inf: x`)
  fid_inf  the same on avgpool features                                              (last line `FID_inf: x`)
  is       --fake=PATH|F.npz [--real=PATH|F.npz --splits=10 --network=c3d-ucf101]      (last line `IS: x`)
  merge    --out=S.npz SHARD.npz SHARD.npz ...   (statistics of shards computed on several hosts)
  protocols                                      (the named protocols: network, frames, counts, repeats)
  score    --protocol=NAME --fake=PATH [--real=PATH|S.npz --stats_dir=DIR]   (every metric of a protocol)

PATH: a directory of videos (mp4, avi, webm, mov, mkv, gif, npy, npz; searched recursively), one file, or a
glob. `fvd`, `fid`, `prdc --per_class`: one row per class (class subfolders of a video directory, or the
labels of a features file), then `intra-FVD: x` (`intra-FID: x`; prdc: the four means over classes).
`is` scores --fake (alias --videos; with --real, the real set's IS is printed too). The +- line
before the figure gives mean +- std over --repeats (alias --draws) resamplings and the number of videos.
Bad input ends with `error: <one line>` on stderr and exit status 2, and writes no output file.
`main(argv)` runs in-process and returns the exit status; `run()` is the console entry point.
"""
import json

from absl import flags

from eval import __version__, api, command, protocol_cli, video_io
from eval import io as eio
from eval.errors import EvalError
from eval.features import check_layer, extract_features
from eval.metrics import PER_CLASS, get_metric
from eval.stats import FeatureStats, is_stats_file

TWO_SET_COMMANDS = ("fvd", "fid", "kvd", "prdc", "fvd_inf", "fid_inf")
USAGE = __doc__.split("\n\n")[0] + "\n" + __doc__.split("\n\n")[1]


def _define_flags(command: str, fv: flags.FlagValues) -> flags.FlagValues:
  """Defines the flags of `command` on `fv` (eval.command defines --help)."""
  d = dict(flag_values=fv)
  if command == "merge":
    flags.DEFINE_string("out", None, "Output statistics file (.npz).", **d)
    return fv
  flags.DEFINE_string("network", None, "Feature network (default: the metric's, i3d-kinetics-400; or the one "
                      "of the statistics file given).", **d)
  flags.DEFINE_string("weights", None, "Weights of the network (default: its packaged source).", **d)
  flags.DEFINE_string("layer", None, "Feature layer: logits or avgpool (default: the metric's).", **d)
  flags.DEFINE_integer("batch_size", 8, "Videos per forward pass.", lower_bound=1, **d)
  flags.DEFINE_integer("frames", None, "Frames T per video: the first T (at --stride) are kept; shorter videos "
                       "are an error. Default: the length of the first video (or the statistics file's).",
                       lower_bound=1, **d)
  flags.DEFINE_integer("stride", 1, "Keep every stride-th frame.", lower_bound=1, **d)
  flags.DEFINE_integer("num_videos", None, "Use the first N videos (error if fewer).", lower_bound=1, **d)
  flags.DEFINE_boolean("progress", True, "Progress bar on stderr.", **d)
  if command in ("features", "stats"):
    flags.DEFINE_string("videos", None, "Videos: directory, file or glob.", **d)
    flags.DEFINE_string("out", None, "Output file (.npz).", **d)
    flags.DEFINE_string("dataset", None, "Dataset name recorded in the metadata.", **d)
    flags.DEFINE_string("split", None, "Dataset split recorded in the metadata.", **d)
    flags.DEFINE_integer("shard_index", 0, "This host's shard (every num_shards-th video).", lower_bound=0, **d)
    flags.DEFINE_integer("num_shards", 1, "Number of shards; merge them with `merge`.", lower_bound=1, **d)
    flags.DEFINE_boolean("class_folders", False, "Label every video with its class subfolder of --videos "
                         "(stored with the features, for --per_class).", **d)
  if command == "stats":
    flags.DEFINE_string("tfds", None, "A TFDS dataset NAME:SPLIT (prepared in --tfds_data_dir).", **d)
    flags.DEFINE_string("tfds_data_dir", None, "TFDS data directory.", **d)
    flags.DEFINE_string("tfds_key", None, "Video feature of the TFDS examples (default: the first video).", **d)
    flags.DEFINE_boolean("store_features", False, "Also store the per-video features (IS, KVD, PRDC, FVD_inf and "
                         "per-class scores need them).",
                         **d)
  if command in TWO_SET_COMMANDS:
    flags.DEFINE_string("real", None, "Real videos (directory, file, glob) or statistics file (.npz).", **d)
    flags.DEFINE_string("fake", None, "Generated videos (directory, file, glob) or statistics file (.npz).", **d)
  if command == "is":
    flags.DEFINE_string("fake", None, "Videos to score (directory, file, glob) or features file (.npz).", **d)
    flags.DEFINE_string("videos", None, "Same as --fake.", **d)
    flags.DEFINE_string("real", None, "Optional: real videos or features file, whose IS is printed too.", **d)
    flags.DEFINE_integer("splits", 10, "Number of splits (mean +- std over splits).", lower_bound=1, **d)
  if command in ("fvd", "fid"):
    flags.DEFINE_integer("draws", 10, "Resamplings of the fake set for the +- (0: none).", lower_bound=0, **d)
    flags.DEFINE_alias("repeats", "draws", flag_values=fv)
  if command in PER_CLASS:
    flags.DEFINE_boolean("per_class", False, "One row per class present in both sets (class subfolders of a "
                         "video directory, or labels stored in a features file) and their mean.", **d)
  if command in ("prdc",):
    flags.DEFINE_integer("k", 5, "Nearest neighbours defining the balls of the k-NN manifolds.", lower_bound=1,
                         **d)
  if command in ("fvd_inf", "fid_inf"):
    flags.DEFINE_integer("num_points", 15, "Subset sizes of the fit, evenly spaced from --min_size to all.",
                         lower_bound=2, **d)
    flags.DEFINE_integer("min_size", None, "Smallest subset (default: a tenth of the fake videos).",
                         lower_bound=2, **d)
    flags.DEFINE_integer("draws", 1, "Random subsets per size (their mean is the point).", lower_bound=1, **d)
    flags.DEFINE_integer("seed", 0, "Seed of the subsets.", **d)
  if command in ("fvd", "fid", "kvd"):
    flags.DEFINE_integer("subset_size", None, "fvd/fid: draws are subsets of this size without replacement "
                         "(default: bootstrap of the whole set); kvd: subset size (default min(1000, N)).",
                         lower_bound=2, **d)
    flags.DEFINE_integer("seed", 0, "Seed of the draws.", **d)
  if command == "kvd":
    flags.DEFINE_integer("num_subsets", 100, "Random subsets (mean +- std over them).", lower_bound=1, **d)
  if command in TWO_SET_COMMANDS + ("is",):
    flags.DEFINE_string("json", None, "Also write the figure and the metadata to this JSON file.", **d)
  return fv


def _check_out(path: str | None, required: bool = True) -> None:
  if path is None:
    if required:
      raise EvalError("--out is required")
    return
  if not path.endswith(".npz"):
    raise EvalError(f"--out must name an .npz file, got {path}")
  _check_parent(path)


def _check_json(path: str | None) -> None:
  if path is not None:
    _check_parent(path)


def _check_parent(path: str) -> None:
  """A local output's folder must exist; object stores (gs://...) have no folders to check."""
  missing = eio.missing_output_folder(path)
  if missing:
    raise EvalError(f"output directory does not exist: {missing}")


class _Context:
  """The flags of one call and the network, built once when first needed."""

  def __init__(self, fv: flags.FlagValues):
    self.fv = fv
    self._networks = {}

  def network(self, name: str):
    if name not in self._networks:
      self._networks[name] = api.get_feature_network(name, self.fv.weights)
    return self._networks[name]

  def video_stats(self, source: str, network: str, layer: str, frames: int | None, store_features: bool,
                  role: str, dataset: str | None = None, split: str | None = None,
                  labels: bool = False) -> "FeatureStats":
    """Streams the videos of `source` (path or TFDS NAME:SPLIT) through the network into statistics;
    `labels`: each video's class subfolder of `source` becomes its label."""
    fv = self.fv
    files = None if role == "tfds" else video_io.list_video_files(source)  # bad paths fail before TF loads
    net = self.network(network)
    check_layer(net, layer)
    frames = frames if frames is not None else getattr(net, "frames", None)
    shard = dict(shard_index=getattr(fv, "shard_index", 0), num_shards=getattr(fv, "num_shards", 1))
    if shard["shard_index"] >= shard["num_shards"]:
      raise EvalError(f"--shard_index={shard['shard_index']} must be below --num_shards={shard['num_shards']}")
    kwargs = dict(frames=frames, stride=fv.stride, min_frames=getattr(net, "min_frames", 1),
                  num_videos=fv.num_videos, **shard)
    if labels and role == "tfds":
      raise EvalError("class labels come from class subfolders of a video directory, not from --tfds")
    classes = []
    if role == "tfds":
      videos = video_io.iter_tfds_videos(source, data_dir=fv.tfds_data_dir, key=fv.tfds_key, **kwargs)
      total = fv.num_videos
    else:
      videos = video_io.iter_videos(source, **kwargs)
      if labels:
        videos = video_io.with_classes(videos, source, classes)
      total = fv.num_videos or (None if any(f.endswith(video_io.ARRAY_EXTENSIONS) for f in files)
                                else len(files) // shard["num_shards"])
    metadata = {"stride": fv.stride, "dataset": dataset, "split": split, "source": source}
    if shard["num_shards"] > 1:
      metadata["shard"] = [shard["shard_index"], shard["num_shards"]]
    stats = extract_features(videos, net, layer, batch_size=fv.batch_size, store_features=store_features,
                             metadata=metadata, progress=fv.progress, total=total, name=source)
    if labels:
      stats.set_labels(classes[:stats.num_items])
    return stats


def _cmd_extract(fv, command: str) -> None:
  """features / stats: videos -> statistics file (features: with the per-video features)."""
  has_videos, has_tfds = fv.videos is not None, getattr(fv, "tfds", None) is not None
  if has_videos == has_tfds:
    raise EvalError("give exactly one of --videos=PATH" + (" and --tfds=NAME:SPLIT" if command == "stats" else ""))
  _check_out(fv.out)
  ctx = _Context(fv)
  network = fv.network or "i3d-kinetics-400"
  layer = fv.layer or "logits"
  store = command == "features" or fv.store_features
  if fv.class_folders and not store:
    raise EvalError("--class_folders labels the stored features: give --store_features too")
  if has_tfds:
    if ":" not in fv.tfds:
      raise EvalError(f"--tfds must be NAME:SPLIT, got {fv.tfds}")
    name, split = fv.tfds.split(":", 1)
    stats = ctx.video_stats(fv.tfds, network, layer, fv.frames, store, "tfds", fv.dataset or name,
                            fv.split or split)
  else:
    stats = ctx.video_stats(fv.videos, network, layer, fv.frames, store, "videos", fv.dataset, fv.split,
                            labels=fv.class_folders)
  stats.metadata.pop("source", None)
  stats.save(fv.out)
  print(f"wrote {'features' if store else 'statistics'} of {stats.num_items} videos "
        f"({stats.metadata['network']} {layer}, {stats.metadata['frames']} frames, dim {stats.dim}) to {fv.out}")


def _load_or_compute(ctx: _Context, source: str, spec, network: str, layer: str, frames: int | None,
                     role: str):
  if is_stats_file(source):
    stats = FeatureStats.load(source)
  else:
    stats = ctx.video_stats(source, network, layer, frames, True, role, labels=spec.needs_labels)
  stats.metadata["source"] = source
  spec.check(stats.metadata.get("network"), stats.metadata.get("layer"))
  if spec.features_needed(role) and not stats.has_features:
    stats.features  # raises the EvalError that says how to get them
  return stats


def _cmd_metric(fv, command: str) -> None:
  spec = get_metric(PER_CLASS[command] if getattr(fv, "per_class", False) else command)
  if spec.two_sets:
    sources = {"real": fv.real, "fake": fv.fake}
  else:  # is: scores --fake (or --videos); an optional --real is scored too, for reference
    if fv.fake is not None and fv.videos is not None:
      raise EvalError("give --fake or --videos (the same thing), not both")
    sources = {"fake": fv.fake if fv.fake is not None else fv.videos}
    if fv.real is not None:
      sources = {"real": fv.real, **sources}
  for role, src in sources.items():
    if src is None:
      raise EvalError(f"--{role} is required")
  _check_json(fv.json)
  # Network, layer and frames: the flags, else those of a statistics file given, else the metric's.
  known = {}
  for src in sources.values():
    if is_stats_file(src):
      meta = FeatureStats.load(src).metadata
      for key in ("network", "layer", "frames"):
        known.setdefault(key, meta.get(key))
  network = fv.network or known.get("network") or spec.network
  layer = fv.layer or known.get("layer") or spec.layer
  frames = fv.frames or known.get("frames")
  spec.check(network, layer)
  ctx = _Context(fv)
  sets = {role: _load_or_compute(ctx, src, spec, network, layer, frames, role) for role, src in sources.items()}
  options = {k: getattr(fv, k) for k in ("draws", "subset_size", "seed", "splits", "num_subsets", "k",
                                         "num_points", "min_size") if k in fv}
  result = spec.compute(sets.get("real"), sets["fake"], **options)
  real_result = None
  if not spec.two_sets and "real" in sets:
    real_result = spec.compute(None, sets["real"], **options)
    print(f"{spec.label} of the real videos, mean +- std over {real_result.draw_kind}: "
          f"{real_result.draw_mean:.4f} +- {real_result.std:.4f} ({sets['real'].num_items} real videos)")
  for row in result.rows:
    print(row)
  print(result.summary(spec.label))
  if fv.json:
    record = {"metric": spec.label, **result.to_dict(), "version": __version__,
              "real": sets["real"].metadata if "real" in sets else None, "fake": sets["fake"].metadata,
              "options": options}
    if real_result is not None:
      record["real_result"] = real_result.to_dict()
    text = json.dumps(record, indent=2, sort_keys=True, default=str)
    eio.write_text(fv.json, text, make_parents=eio.has_scheme(fv.json))
  for name, value in result.figures(spec.label).items():
    print(f"{name}: {value:.4f}")


def _cmd_merge(fv, paths: list[str]) -> None:
  _check_out(fv.out)
  if len(paths) < 1:
    raise EvalError("merge needs statistics files as arguments: merge --out=S.npz A.npz B.npz ...")
  merged = FeatureStats.load(paths[0])
  for path in paths[1:]:
    merged.merge(FeatureStats.load(path))
  merged.metadata.pop("source", None)
  merged.metadata.pop("shard", None)
  merged.save(fv.out)
  print(f"wrote statistics of {merged.num_items} videos merged from {len(paths)} files to {fv.out}")


def _command(name: str, body) -> dict:
  return dict(define_flags=lambda fv, argv: _define_flags(name, fv), body=body, usage=USAGE,
              allow_args=name == "merge")


# Every sub-command of `python -m eval`, each in eval.command's shape (define_flags, body, usage).
COMMANDS = {
    **{name: _command(name, lambda fv, args, name=name: _cmd_extract(fv, name)) for name in ("features", "stats")},
    **{name: _command(name, lambda fv, args, name=name: _cmd_metric(fv, name))
       for name in ("fvd", "fid", "is", "kvd", "prdc", "fvd_inf", "fid_inf")},
    "merge": _command("merge", _cmd_merge),
    **protocol_cli.COMMANDS,
}


def main(argv: list[str]) -> int:
  """Runs `argv` = [program, command, flags...]; returns the exit status (0, or 2 on bad input)."""
  return command.dispatch(argv, COMMANDS, USAGE)


def run() -> None:
  """Console entry point (`video-eval`, `python -m eval`)."""
  command.run(main)
