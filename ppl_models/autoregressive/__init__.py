r"""Autoregressive models of binary images: the chain rule :math:`p(x) = \prod_i p(x_i \mid x_{<i})`
as a model, with an exact likelihood.

The networks (MADE, PixelCNN and its gated two-stack version, a causal pixel Transformer) live in
:mod:`ppl_models.nets`; here everything meets through one closure ``logits_fn(x) -> (B, D)``
whose column ``i`` reads only the pixels before ``i``: exact log-likelihoods
(:mod:`.likelihood`), pixel-by-pixel sampling and completion (:mod:`.sampling`), and maximum
likelihood training with early stopping (:mod:`.training`). Chapter 10's cached models are in
:mod:`.recipes`.
"""

from .likelihood import all_binary, bernoulli_log_prob, check_binary_x, log_prob, mixture_log_prob, nll_nats
from .sampling import Samples, sample, sample_transformer
from .training import ARHistory, ARTrainConfig, split_validation, train_autoregressive

# Bump when code here or in the autoregressive networks changes what training produces.
MODEL_VERSION = 1

__all__ = [
    "MODEL_VERSION", "all_binary", "bernoulli_log_prob", "check_binary_x", "log_prob", "mixture_log_prob",
    "nll_nats", "Samples", "sample", "sample_transformer", "ARHistory", "ARTrainConfig", "split_validation",
    "train_autoregressive",
]
