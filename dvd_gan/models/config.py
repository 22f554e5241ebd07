"""Model section of the config (owned by dvd_gan.models). Paper defaults for 64x64 Kinetics-600.

Top-level fields used by the models: `num_frames` (T), `resolution` (H = W), `num_classes` (0 =
unconditional). Multipliers: layer i has `ch * multipliers[i]` channels (docs/paper.md, "Widths").

G: `g_multipliers[0]` gives ch0 (the 4x4 RNN grid); every further entry is one resolution stage (x2), made of
`g_blocks_per_stage` residual blocks of kind `g_block`: with 2 (the paper), a block that keeps resolution and
channels, then a block that upsamples and changes channels (BigGAN-deep's order). So `len(g_multipliers) - 1`
upsamplings: 4 * 2**(len - 1) must equal the resolution. `g_block` is "biggan" (BigGAN's residual block, the
paper's G) or "biggan_deep" (BigGAN-deep's bottleneck block, appendix C's variant); a config without the key
(a run's config.json written before it existed) means "biggan_deep", what such runs were trained with
(dvd_gan/legacy.py).
DS / DT: one BigGAN D block per multiplier; every block but the last halves the spatial size.
"""
import ml_collections

# Channel multipliers per resolution (docs/paper.md, "Widths"). G: ch0 multiplier, then one per stage.
# 64 and 128 are the paper's; the paper gives none for 256: we extend them BigGAN's way (BigGAN's 256x256
# architecture, github.com/ajbrock/BigGAN-PyTorch: G 16,16,8,8,4,2,1 and D 1,2,4,8,8,16,16, i.e. one more
# 8x stage inserted in the middle).
PAPER_G_MULTIPLIERS = {
    64: (8, 8, 8, 4, 2),
    128: (16, 16, 8, 4, 2, 1),
    256: (16, 16, 8, 8, 4, 2, 1),
}
PAPER_D_MULTIPLIERS = {
    64: (2, 4, 8, 16, 16),
    128: (1, 2, 4, 8, 16, 16),
    256: (1, 2, 4, 8, 8, 16, 16),
}


def set_paper_widths(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Sets the paper's widths for `config.resolution` and `config.num_frames` (in place; returns config).

  Multipliers from the tables above; D ch = 128; G ch = 128 for 64x64 with fewer than 48 frames, 64 above
  64x64 or with 48 frames (docs/paper.md, "Widths"). 48-frame models use the standard ConvGRU (the paper:
  "better for 48-frame models"), the others the multiplicative one. G's blocks are BigGAN's (`g_block`).
  """
  r, t = int(config.resolution), int(config.num_frames)
  if r not in PAPER_G_MULTIPLIERS:
    raise ValueError(f"no paper widths for resolution {r}; choose one of {sorted(PAPER_G_MULTIPLIERS)}")
  m = config.model
  m.g_multipliers = PAPER_G_MULTIPLIERS[r]
  m.ds_multipliers = PAPER_D_MULTIPLIERS[r]
  m.dt_multipliers = PAPER_D_MULTIPLIERS[r]
  m.d_ch = 128
  m.g_ch = 128 if (r <= 64 and t < 48) else 64
  m.g_rnn = "standard" if t >= 48 else "multiplicative"
  m.g_block = "biggan"  # the paper's G: BigGAN's residual blocks (appendix C rejected BigGAN-deep's)
  return config


def model_config() -> ml_collections.ConfigDict:
  m = ml_collections.ConfigDict()
  m.z_dim = 120
  m.embed_dim = 120                        # class embedding e(y) of G (ignored when num_classes = 0)
  # Generator.
  m.g_ch = 128
  m.g_multipliers = (8, 8, 8, 4, 2)        # 64x64: 4 -> 64 in four upsampling stages
  m.g_rnn = "multiplicative"               # "multiplicative" | "standard" ConvGRU
  m.g_block = "biggan"                     # "biggan": BigGAN's residual blocks (the paper) | "biggan_deep":
                                           # BigGAN-deep's bottleneck blocks (appendix C's variant)
  m.g_blocks_per_stage = 2                 # 2 blocks per resolution stage, as BigGAN-deep (1 = BigGAN)
  m.g_rnn_attention = True                 # full self-attention over T x 4 x 4 after the ConvGRU
  m.g_separable_attention_blocks = (-1,)   # SeparableSelfAttention before these residual blocks (indices
                                           # into all G blocks, negative from the end); () = none
  m.g_bn_momentum = 0.999                  # decay of G's batch-norm moving statistics, which inference-mode
                                           # sampling uses (short runs want less, e.g. 0.9 in tiny.py)
  # Discriminators.
  m.d_ch = 128
  m.ds_multipliers = (2, 4, 8, 16, 16)
  m.dt_multipliers = (2, 4, 8, 16, 16)
  m.ds_k = 8                               # frames sampled per video by DS (k >= T: all frames)
  m.ds_attention_blocks = ()               # SelfAttention (per frame) after these DS blocks; () = none
  m.dt_phi = "avgpool2"                    # "avgpool2" | "avgpool4" | "identity" | "random_crop_half"
  m.dt_num_3d_blocks = 2                   # the first blocks of DT are 3-D (3x3x3 convs)
  m.dt_downsample_time = False             # do DT's 3-D blocks also halve T? (the paper is silent)
  m.dt_attention_blocks = ()               # SelfAttention (per frame) after these 2-D DT blocks; () = none
  # Memory.
  m.remat = False                          # recompute G's, DS's and DT's residual blocks in the backward pass
                                           # (less activation memory, ~1 more forward of the blocks; equal
                                           # results: dvd_gan/layers/remat.py)
  # DVD-GAN-FP (used when data.num_conditioning_frames = C > 0; dvd_gan/models/prediction_generator.py): the
  # conditioning network, "the same kind of residual network as DS", and the U-Net skips into G.
  m.cond_ch = 0                            # width of the conditioning network; 0 = d_ch (DS's)
  m.cond_multipliers = ()                  # its multipliers (last block must give 4x4); () = ds_multipliers
  m.fp_unet_skips = True                   # U-Net skips from the conditioning network into G's blocks
  return m
