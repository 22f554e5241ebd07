"""What every set of end-of-run demo figures compares the trained generator with: the run's feature network and
a freshly initialised generator of the same config, and the seed both generators sample with
(dvd_gan.evaluation.figures, dvd_gan.evaluation.prediction)."""
import keras

from dvd_gan.evaluation import protocols as run_protocols
from dvd_gan.models import build as build_lib
from dvd_gan.training import precision as precision_lib
import eval as video_eval
from eval.interrupt import check as check_stop


def samples_seed(config) -> int:
  """The latents' seed of the end-of-run samples (synthesis and prediction demos), of the untrained and the
  trained generator alike."""
  return int(config.seed) + 2


def network_and_untrained_generator(config, build_models=None, should_stop=None, network=None) -> tuple:
  """(the feature network of config.eval, a freshly initialised generator). The untrained generator's weights
  are a function of config.seed (Keras draws initialiser seeds from its global generator), so its figures repeat
  from run to run. should_stop: `() -> bool` (eval.interrupt), checked before the generator is built.
  network: that feature network when already built (the run's periodic evaluation's), else built here with
  the run's weights for it."""
  e = config.eval
  net = network or video_eval.get_feature_network(e.network, run_protocols.network_weights(config, e.network))
  check_stop(should_stop, "end-of-run figures")  # building a generator takes a while: not after a signal
  keras.utils.set_random_seed(int(config.seed))
  with precision_lib.policy_scope(config.train.mixed_precision):
    untrained = (build_models or build_lib.build_models)(config)[0]
  return net, untrained
