"""dvd-gan: DVD-GAN (Clark, Donahue, Simonyan 2019) in TensorFlow 2 / Keras 3, and a standalone video
evaluation package (`eval`: I3D / C3D features, FVD, FID, IS)."""
import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent


def _requirements():
  lines = (HERE / "requirements.txt").read_text().splitlines()
  return [l.strip() for l in lines if l.strip() and not l.startswith("#")]


setup(
    name="dvd-gan",
    version="0.1.0",
    description="DVD-GAN video generation in TensorFlow 2 / Keras 3, with an I3D/C3D evaluation package.",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["dvd_gan", "dvd_gan.*", "eval", "eval.*"]),
    package_data={"eval": ["labels/*.txt"]},
    install_requires=_requirements(),
    extras_require={
        "test": ["pytest>=8", "pytest-xdist>=3.5", "apache-beam>=2.77", "matplotlib>=3.7",
                 "nbclient>=0.10", "nbformat>=5.10", "ipykernel>=6.29"],  # nb*: runs notebooks/sample.ipynb
        "beam": ["apache-beam>=2.77"],
        "hub": ["tensorflow-hub>=0.16"],
        "plot": ["matplotlib>=3.7"],  # python -m dvd_gan.plot_metrics (curves of metrics.jsonl)
    },
    entry_points={
        "console_scripts": [
            "dvd-gan-train=dvd_gan.train:run",
            "dvd-gan-evaluate=dvd_gan.evaluate:run",
            "dvd-gan-sample=dvd_gan.sample:run",
            "video-eval=eval.cli:run",
        ],
    },
)
