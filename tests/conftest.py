"""Test-wide setup: two logical CPU devices, so MirroredStrategy runs for real on one CPU.

This must run before TensorFlow initialises its devices, which is why it lives at import time of the root
conftest. The default strategy still places everything on the first device.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
  tf.config.set_logical_device_configuration(
      _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
except RuntimeError:  # devices already initialised (e.g. by a plugin); tests needing 2 devices will skip
  pass
