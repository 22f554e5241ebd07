"""Experiment configs: one ml_collections file per paper model (+ the Figure 7 ablations and the tiny demo).

Each file has `get_config()` (the ablations: `get_config(arg)`). Select one by name from any folder,
`dvd-gan-train --config=kinetics600_12f_64`, or by path, `--config=experiments/kinetics600_12f_64.py`
(dvd_gan.experiments resolves the names). An install carries this folder as the package
`dvd_gan_experiments` (setup.py), so the names work after `pip install` of a clone or a wheel.
"""
