"""Which `eval.protocols` a run is scored with, and the paper's figures to print beside ours.

dvd_gan registers its own protocols here, through eval's one registry:

  demo_fvd   the synthetic demos (experiments/demo.py, tiny.py): FVD (Kinetics-400 I3D logits) of 32 samples of G_ema
             against the first 64 videos of the synthetic `test` split, cheap enough to run every 300 (tiny.py) or
             1000 (demo.py) steps on 2 CPU cores. Its real set is the end-of-run figures' reference set
             (dvd_gan.evaluation.figures).
  demo_fvd_pr  the same samples and real videos, with precision, recall, density, coverage (a falling recall
             is an early sign of mode collapse, docs/training.md) and the intra-FVD over the classes.
  folder_fvd the video_folder runs: FVD of 256 samples against the run's evaluation split, real statistics
             cached per prepared folder (stats_dataset: the fingerprint is part of their name).
  folder_fvd_small  folder_fvd with 32 samples: the curve of video_folder:small during training (every 1000
             steps on 2 CPU cores, as the demo's curve), against the same real videos.

A run's protocols: `eval.protocols` during training; `eval.final_protocols`, else the paper's for its dataset
(`paper_protocols`), for `python -m dvd_gan.evaluate`. Frame-conditional runs (data.num_conditioning_frames
> 0) are scored with FVD (`fvd_k400`) as the paper scores DVD-GAN-FP.
"""
import dataclasses

from eval.errors import EvalError
from eval.protocols import Protocol, get_protocol, register_protocol

DEMO_PROTOCOL = register_protocol(Protocol(
    name="demo_fvd",
    description="the synthetic demo: FVD of 32 G_ema samples against 64 test videos (cheap, for curves)",
    network="i3d-kinetics-400", metrics=("fvd",), num_fake=32, num_real=64, repeats=10,
    dataset="synthetic", split="test",
    reference="dvd_gan demo (experiments/demo.py, tiny.py); not a paper protocol",
    notes="32 fake videos give a biased but consistent FVD: compare it only with itself across steps"))

DEMO_PR_PROTOCOL = register_protocol(Protocol(
    name="demo_fvd_pr",
    description="the synthetic demo: demo_fvd's FVD, plus precision, recall, density, coverage and the "
                "intra-FVD over its classes (all on I3D logits)",
    network="i3d-kinetics-400", metrics=("fvd", "prdc", "intra_fvd"), metric_layers=(("prdc", "logits"),),
    num_fake=32, num_real=64, repeats=10, dataset="synthetic", split="test", main_metric="fvd",
    reference="dvd_gan demo; precision/recall: Kynkäänniemi et al. 2019; density/coverage: Naeem et al. 2020",
    notes="the same samples and real videos as demo_fvd (its FVD is demo_fvd's); k = 5 nearest neighbours of "
          "32 and 64 videos, on logits so that one real statistics file serves every metric; per-class rows "
          "from about 4 samples per class are rough (compare them only across steps)"))

FOLDER_PROTOCOL = register_protocol(Protocol(
    name="folder_fvd",
    description="a folder of your own videos: FVD of 256 G_ema samples against every video of the run's "
                "evaluation split (data.eval_split: the folder's held-out videos)",
    network="i3d-kinetics-400", metrics=("fvd",), num_fake=256, num_real=None, repeats=10, dataset=None,
    split="validation",
    reference="dvd_gan video_folder (docs/data.md, \"Your own videos\"); not a paper protocol",
    notes="the real statistics are cached per prepared folder (its fingerprint is in the file name and "
          "metadata): a changed folder gets new statistics"))

FOLDER_SMALL_PROTOCOL = register_protocol(dataclasses.replace(
    FOLDER_PROTOCOL, name="folder_fvd_small",
    description="a folder of your own videos, cheap: folder_fvd with 32 G_ema samples (for curves during "
                "training, video_folder:small)",
    notes=FOLDER_PROTOCOL.notes + "; 32 fake videos give a biased but consistent FVD: compare it only with "
          "itself across steps", num_fake=32))

# The paper's figures (docs/paper.md, "Results", Tables 1-3), keyed by what identifies the config's row.
TABLE1 = {  # Kinetics-600 synthesis: (frames, resolution) -> FID, IS, IS truncated
    (12, 64): (0.91, 61.10, 129.9), (48, 64): (12.92, 97.62, 219.05), (12, 128): (2.16, 55.09, 80.32),
    (48, 128): (31.50, 111.19, 222.07), (12, 256): (3.35, 59.74, 64.05),
}
TABLE2_IS = (32.97, 1.7)      # UCF-101 IS (C3D), mean +- std
# Kinetics-600, 16 frames at 64x64 without frame skipping, FVD: DVD-GAN-FP (prediction) and DVD-GAN (synthesis).
TABLE3_FVD = {"prediction": {"train": (99.32, 0.55), "test": (103.78, 1.17)},
              "synthesis": {"train": (32.34, 0.82), "test": (31.1, 0.56)}}


def paper_protocols(config) -> tuple:
  """The protocols the paper scores this config's dataset / task with."""
  name = config.data.name
  if int(config.data.get("num_conditioning_frames", 0)) > 0:
    return ("fvd_k400",)
  if name == "kinetics600":
    return ("k600_fid_is", "k600_is_truncated")
  if name == "ucf101":
    return ("ucf101_is_c3d",)
  if name == "bair_robot_pushing_small":
    return ("fvd_k400",)
  if name == "synthetic":
    return ("demo_fvd",)
  if name == "video_folder":
    return ("folder_fvd",)
  raise ValueError(f"no paper protocol for dataset {name!r}; set eval.final_protocols")


def final_protocols(config) -> tuple:
  """`eval.final_protocols`, else `paper_protocols(config)`."""
  return tuple(config.eval.get("final_protocols", ()) or ()) or paper_protocols(config)


def periodic_protocols(config) -> tuple:
  return tuple(config.eval.get("protocols", ()) or ())


def main_metric(config, protocols=None) -> str:
  """"<protocol>/<metric>" deciding the best checkpoint and collapse (eval.main_metric, else the main
  metric of the first periodic protocol)."""
  protocols = periodic_protocols(config) if protocols is None else tuple(protocols)
  chosen = config.eval.get("main_metric", "")
  if chosen:
    name, _, metric = chosen.partition("/")
    protocol = get_protocol(name)
    if metric not in protocol.figures:
      raise EvalError(f"eval.main_metric {chosen!r}: protocol {name} has metrics {', '.join(protocol.figures)}")
    if name not in protocols:
      raise EvalError(f"eval.main_metric {chosen!r}: {name} is not one of eval.protocols {protocols}")
    return chosen
  if not protocols:
    raise EvalError("no protocol to take the main metric from: set eval.protocols")
  p = get_protocol(protocols[0])
  return p.key(p.main)


def higher_is_better(key: str) -> bool:
  """Whether "<protocol>/<metric>" improves upwards (IS) or downwards (FVD, FID, KVD)."""
  name, _, metric = key.partition("/")
  return get_protocol(name).higher_is_better(metric)


def real_split(config, protocol) -> str:
  """Split of the real statistics: eval.real_split, else the protocol's when it names this dataset, else
  data.eval_split."""
  p = get_protocol(protocol)
  if config.eval.get("real_split", ""):
    return config.eval.real_split
  if p.dataset is not None and p.dataset == config.data.name:
    return p.split
  return config.data.eval_split


def check_protocol(config, protocol) -> Protocol:
  """The protocol, or an EvalError when it cannot score this run (other dataset, frames or stride)."""
  p = get_protocol(protocol)
  if p.needs_labels and int(config.get("num_classes", 0) or 0) == 0:
    raise EvalError(f"protocol {p.name} scores per class; this run is not class-conditional")
  if p.dataset is not None and p.dataset != config.data.name:
    raise EvalError(f"protocol {p.name} compares with {p.dataset} statistics; this run's data is "
                    f"{config.data.name}")
  total_frames = int(config.num_frames) + int(config.data.get("num_conditioning_frames", 0))
  if p.frames is not None and total_frames < p.frames:
    raise EvalError(f"protocol {p.name} scores {p.frames}-frame videos; this run makes {total_frames}")
  if p.stride is not None and p.needs_real and int(config.data.stride) != p.stride:
    raise EvalError(f"protocol {p.name} compares with real videos at frame stride {p.stride}; this run's "
                    f"data.stride is {config.data.stride}")
  return p


def network_weights(config, network: str):
  """The weights of `network` for this run: eval.network_weights.<network with _>, else eval.weights when
  `network` is eval.network, else None (eval's default source)."""
  e = config.eval
  by_network = e.get("network_weights", None)
  key = network.replace("-", "_")
  if by_network is not None and by_network.get(key, ""):
    return by_network[key]
  if network == e.get("network", "") and e.get("weights", ""):
    return e.weights
  return None


def paper_figures(config, key: str):
  """The paper's (value, std or None) for "<protocol>/<metric>" of this config, or None if it has none."""
  name, _, metric = key.partition("/")
  t, r = int(config.num_frames), int(config.resolution)
  if name == "k600_fid_is" and (t, r) in TABLE1:
    return (TABLE1[(t, r)][0], None) if metric == "fid" else (TABLE1[(t, r)][1], None)
  if name == "k600_is_truncated" and (t, r) in TABLE1:
    return TABLE1[(t, r)][2], None
  if name == "ucf101_is_c3d":
    return TABLE2_IS
  if name == "fvd_k400" and config.data.name == "kinetics600" and (t, r) == (
      16 - int(config.data.get("num_conditioning_frames", 0)), 64):
    task = "prediction" if int(config.data.get("num_conditioning_frames", 0)) > 0 else "synthesis"
    return TABLE3_FVD[task]["train" if real_split(config, name) == "train" else "test"]
  return None


def stats_dataset(config) -> str:
  """The dataset name the real statistics of this run are cached and checked under: data.name, and for a
  video_folder its prepared dataset (data.tfds_config = resolution + the folder's fingerprint), so that a
  changed folder never reuses the statistics of the old one."""
  name = config.data.name
  if name == "video_folder" and config.data.get("tfds_config", ""):
    return f"{name}-{config.data.tfds_config}"
  return name
