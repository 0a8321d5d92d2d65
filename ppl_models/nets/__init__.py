"""Every network of the course, defined once.

Networks take ``(x, t)`` or ``(x, t, y)`` with ``t`` of shape ``(B,)`` (or ``x`` alone for the
trunk and its heads), read their device off their parameters, build every tensor on the
input's device and dtype, and never read a global. Builders that take a seed initialise their
weights from it, whatever the global RNG state.

* :mod:`.mlp`: :class:`MLP`, the conditional :class:`TimeMLP` for 2-D toy data.
* :mod:`.embedding`: :class:`SinusoidalEmbedding` of a time or noise level.
* :mod:`.unet`: :class:`UNet` / :class:`UNetConfig` for one-channel images.
* :mod:`.conv`: :class:`ConvTrunk` with :class:`ClassifierHead` / :class:`ScalarHead`.
* :mod:`.generator`: :class:`ConvGenerator`; :mod:`.discriminator`: :class:`ConvDiscriminator`.
* :mod:`.vae`: the VAE's :class:`Encoder` / :class:`Decoder`.
* :mod:`.made`, :mod:`.pixelcnn`, :mod:`.transformer`: the autoregressive networks (:class:`MADE`,
  :class:`PixelCNN` / :class:`GatedPixelCNN`, :class:`PixelTransformer` with
  :func:`causal_attention`).
* :mod:`.common`: :func:`seeded`, :func:`count_parameters`, :func:`describe`, input checks.
"""

from .common import count_parameters, describe, seeded
from .conv import ClassifierHead, ConvClassifier, ConvScalar, ConvTrunk, ScalarHead
from .discriminator import ConvDiscriminator
from .embedding import SinusoidalEmbedding
from .generator import ConvGenerator
from .made import MADE, MADEConfig, MaskedLinear, made_masks
from .mlp import MLP, TimeMLP
from .pixelcnn import GatedPixelCNN, MaskedConv2d, PixelCNN, PixelCNNConfig, causal_mask
from .transformer import (
    CausalSelfAttention,
    PixelTransformer,
    TransformerConfig,
    causal_attention,
    causal_mask_matrix,
)
from .unet import ResBlock, UNet, UNetConfig
from .vae import ARCHITECTURES, Decoder, Encoder, check_image_shape

__all__ = [
    "count_parameters", "describe", "seeded", "ClassifierHead", "ConvClassifier", "ConvScalar", "ConvTrunk",
    "ScalarHead", "SinusoidalEmbedding", "ConvGenerator", "ConvDiscriminator", "MLP", "TimeMLP", "ResBlock",
    "UNet", "UNetConfig",
    "ARCHITECTURES", "Decoder", "Encoder", "check_image_shape",
    "MADE", "MADEConfig", "MaskedLinear", "made_masks", "GatedPixelCNN", "MaskedConv2d", "PixelCNN",
    "PixelCNNConfig", "causal_mask", "CausalSelfAttention", "PixelTransformer", "TransformerConfig",
    "causal_attention", "causal_mask_matrix",
]
