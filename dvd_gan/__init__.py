"""dvd_gan: DVD-GAN in TensorFlow 2 / Keras 3 (README.md).

Importing it before TensorFlow turns TensorFlow's oneDNN CPU kernels on where TensorFlow would leave them off
(eval.onednn); every `python -m dvd_gan.<tool>` and `dvd-gan-*` command imports it first.
"""
from eval.onednn import prefer_onednn

prefer_onednn()
