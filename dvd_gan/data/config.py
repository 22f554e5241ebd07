"""Data section of the config (owned by dvd_gan.data)."""
import ml_collections


def data_config() -> ml_collections.ConfigDict:
  d = ml_collections.ConfigDict()
  d.name = "synthetic"       # "synthetic" | "ucf101" | "bair_robot_pushing_small" | "kinetics600"
  d.split = "train"
  d.stride = 2               # frame stride (2 for Kinetics synthesis, 1 for prediction / other datasets)
  d.data_dir = ""            # TFDS data_dir ("" = TFDS default)
  return d
