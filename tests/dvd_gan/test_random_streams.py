"""dvd_gan.random_streams: the stream words are part of every recorded result and never change."""
import numpy as np
import tensorflow as tf

from dvd_gan import random_streams
from dvd_gan.random_streams import Stream


def test_stream_values_are_fixed():
  assert {s.name: int(s) for s in Stream} == {"SERVING": 0, "SAMPLE_SUMMARIES": 7, "EVALUATION": 11,
                                               "STANDING_STATS": 13}


def test_key_is_seed_and_stream_for_python_and_tensor_seeds():
  np.testing.assert_array_equal(random_streams.key(5, Stream.EVALUATION).numpy(), [5, 11])
  np.testing.assert_array_equal(random_streams.key(tf.constant(5, tf.int32), Stream.EVALUATION).numpy(), [5, 11])
  assert random_streams.key(5, Stream.SERVING).dtype == tf.int64


def test_latents_are_a_pure_function_of_the_key():
  key = random_streams.key(3, Stream.EVALUATION)
  z1, y1 = random_streams.latents(key, 4, 6, 5)
  z2, y2 = random_streams.latents(key, 4, 6, 5, truncation=0.5)
  np.testing.assert_allclose(z2.numpy(), 0.5 * z1.numpy(), rtol=1e-6)
  np.testing.assert_array_equal(y1.numpy(), y2.numpy())
  assert random_streams.latents(key, 4, 6, 0)[1] is None
