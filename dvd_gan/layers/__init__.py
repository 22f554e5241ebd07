"""DVD-GAN layers (Keras 3): spectrally normalised layers, ConvGRUs, self-attention, conditional batch
norm and the residual blocks (BigGAN and BigGAN-deep G blocks, BigGAN D blocks). Video tensors are
`[B, T, H, W, C]`. See docs/layers.md."""
from dvd_gan.layers.spectral_norm import SNConv2D, SNConv3D, SNDense, SNEmbedding, power_iteration
from dvd_gan.layers.util import fold_time, repeat_per_frame, unfold_time, upsample_nearest_2x
from dvd_gan.layers.batch_norm import BatchNorm, ClassConditionalBatchNorm, moments
from dvd_gan.layers.conv_gru import ConvGRU, MultiplicativeConvGRU
from dvd_gan.layers.attention import SelfAttention, SeparableSelfAttention
from dvd_gan.layers.blocks import G_BLOCKS, BigGANDeepGBlock, BigGANGBlock, DBlock, DBlock3D
from dvd_gan.layers.remat import remat

__all__ = [
    "BatchNorm", "BigGANDeepGBlock", "BigGANGBlock", "ClassConditionalBatchNorm", "ConvGRU", "DBlock",
    "DBlock3D", "G_BLOCKS", "MultiplicativeConvGRU", "SNConv2D", "SNConv3D", "SNDense",
    "SNEmbedding", "SelfAttention", "SeparableSelfAttention", "fold_time", "moments", "power_iteration",
    "remat", "repeat_per_frame", "unfold_time", "upsample_nearest_2x",
]
