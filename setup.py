"""dvd-gan: DVD-GAN (Clark, Donahue, Simonyan 2019) in TensorFlow 2 / Keras 3, and a standalone video
evaluation package (`eval`: I3D / C3D features, FVD, FID, IS)."""
import os
import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
EXPERIMENTS = "dvd_gan_experiments"
# The distribution that provides the `tensorflow` module. Cloud TPU VMs need `tensorflow-tpu` (the TPU
# build; a plain `tensorflow` requirement would make pip install the CPU build over it), GPU machines
# `tensorflow[and-cuda]`: `DVD_GAN_TENSORFLOW=tensorflow-tpu pip install -c constraints-tpu.txt -e .`
# (docs/tensorflow_versions.md). The floor stays the one of requirements.txt.
TENSORFLOW_DISTRIBUTIONS = ("tensorflow", "tensorflow[and-cuda]", "tensorflow-cpu", "tensorflow-tpu")


def _requirements():
  lines = (HERE / "requirements.txt").read_text().splitlines()
  requirements = [l.strip() for l in lines if l.strip() and not l.startswith("#")]
  tensorflow = os.environ.get("DVD_GAN_TENSORFLOW", "tensorflow").strip()
  if tensorflow not in TENSORFLOW_DISTRIBUTIONS:
    raise SystemExit(f"error: DVD_GAN_TENSORFLOW={tensorflow!r} is not one of {', '.join(TENSORFLOW_DISTRIBUTIONS)}")
  return [re.sub(r"^tensorflow(?=\s*[<>=!~])", tensorflow, r) for r in requirements]


setup(
    name="dvd-gan",
    version="0.1.0",
    description="DVD-GAN video generation in TensorFlow 2 / Keras 3, with an I3D/C3D evaluation package.",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",  # numpy >= 2.3 (requirements.txt) needs 3.11
    # experiments/ stays at the top of the repository and ships as the package `dvd_gan_experiments`, so
    # `dvd-gan-train --config=NAME` finds the configs from any folder after an install (dvd_gan/experiments.py).
    packages=find_packages(include=["dvd_gan", "dvd_gan.*", "eval", "eval.*"]) + [EXPERIMENTS],
    package_dir={EXPERIMENTS: "experiments"},
    package_data={"eval": ["labels/*.txt"]},
    install_requires=_requirements(),
    extras_require={
        # what `python -m pytest tests` imports beyond the runtime requirements
        "test": ["pytest>=9.2.0", "pytest-xdist>=3.8.0", "pytest-timeout>=2.4.0", "scipy>=1.17.1",
                 "apache-beam>=2.77.0", "matplotlib>=3.11.2",
                 "nbclient>=0.11.0", "nbformat>=5.11.1", "ipykernel>=7.4.0"],  # nb*: runs notebooks/sample.ipynb
        # the `tfds build` command line of tensorflow-datasets 4.9.10 imports mlcroissant and apache_beam
        # (docs/data.md); the Python form (download_and_prepare) needs neither
        "data": ["mlcroissant>=1.1.1", "apache-beam>=2.77.0"],
        "beam": ["apache-beam>=2.77.0"],
        "hub": ["tensorflow-hub>=0.16"],
        "plot": ["matplotlib>=3.11.2"],  # python -m dvd_gan.plot_metrics (curves of metrics.jsonl)
        "lint": ["ruff>=0.17.6"],  # .ci/run: ruff check . (pyproject.toml)
    },
    entry_points={
        "console_scripts": [  # project commands are dvd-gan-<verb>; the standalone eval keeps video-eval
            "dvd-gan-train=dvd_gan.train:run",
            "dvd-gan-evaluate=dvd_gan.evaluate:run",
            "dvd-gan-sample=dvd_gan.sample:run",
            "dvd-gan-export=dvd_gan.export:run",
            "dvd-gan-predict=dvd_gan.predict:run",
            "dvd-gan-prepare-videos=dvd_gan.prepare_videos:run",
            "video-eval=eval.cli:run",
        ],
    },
)
