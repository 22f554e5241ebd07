"""Fixtures of the layer tests: a real 2-replica MirroredStrategy on the 2 logical CPUs of tests/conftest.py."""
import types

import pytest
import tensorflow as tf


@pytest.fixture
def two_replicas(mirrored_strategy):
  """`.strategy`: MirroredStrategy on /cpu:0 and /cpu:1; `.split(a)`: a numpy batch of 2 * b items as a
  distributed value, replica r getting items [b r, b (r + 1)). Fails without 2 logical CPU devices.
  """
  strategy = mirrored_strategy()

  def split(a):
    half = len(a) // 2

    def part(ctx):
      r = ctx.replica_id_in_sync_group
      return tf.constant(a[half * r:half * (r + 1)])
    return strategy.experimental_distribute_values_from_function(part)

  return types.SimpleNamespace(strategy=strategy, split=split)
