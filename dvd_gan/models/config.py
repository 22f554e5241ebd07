"""Model section of the config (owned by dvd_gan.models). Paper defaults for 64x64 Kinetics-600."""
import ml_collections


def model_config() -> ml_collections.ConfigDict:
  m = ml_collections.ConfigDict()
  m.z_dim = 120
  m.embed_dim = 120
  m.g_ch = 128
  m.g_multipliers = (8, 8, 8, 4, 2)        # 64x64: 4 -> 64 in four upsampling stages
  m.g_rnn = "multiplicative"               # "multiplicative" | "standard" ConvGRU
  m.d_ch = 128
  m.ds_multipliers = (2, 4, 8, 16, 16)
  m.dt_multipliers = (2, 4, 8, 16, 16)
  m.ds_k = 8                               # frames sampled per video by DS (k >= T: all frames)
  m.dt_phi = "avgpool2"                    # "avgpool2" | "avgpool4" | "identity" | "random_crop_half"
  return m
