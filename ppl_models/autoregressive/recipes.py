"""Cached models of chapter 10, as :class:`ppl_models.checkpoint.Recipe` objects.

Every model is trained by exact maximum likelihood on chapter 04's statically binarised
MNIST-5k training images (600 in smoke mode), the last ``train.n_val`` of them held out for
early stopping; the cache data key is ``(x_fit, x_val)``. The config dict is
``{"net": <network config>, "train": ARTrainConfig}``; ``overrides`` take ``net.*`` and
``train.*`` keys. ``extra`` holds the per-epoch training / validation NLL, the best epoch and
the training time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from .. import checkpoint, config, data
from ..nets import (
    MADE,
    GatedPixelCNN,
    MADEConfig,
    PixelCNN,
    PixelCNNConfig,
    PixelTransformer,
    TransformerConfig,
)
from ..train.registry import override
from . import MODEL_VERSION
from .training import ARTrainConfig, split_validation, train_autoregressive

__all__ = ["ch10_made_mnist", "ch10_made_mnist_random_order", "ch10_pixelcnn_mnist",
           "ch10_gated_pixelcnn_mnist", "ch10_transformer_mnist", "mnist_split"]


def mnist_split(smoke: bool, n_val: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_fit, x_val)``: chapter 04's binarised MNIST-5k training images minus the last ``n_val``."""
    mnist = data.load_mnist5k(binarized=True, device=config.get_device())
    mnist = mnist.subset(600, 200) if smoke else mnist
    return split_validation(mnist.x_train, n_val)


def _recipe(name: str, net_cfg, make: Callable[[], torch.nn.Module], tcfg: ARTrainConfig,
            smoke: bool) -> checkpoint.Recipe:
    x_fit, x_val = mnist_split(smoke, tcfg.n_val)

    def train_fn():
        net = make().to(x_fit.device)
        h = train_autoregressive(net, x_fit, x_val, tcfg)
        return net.state_dict(), {"train_nll": h.train_nll, "val_nll": h.val_nll, "best_epoch": h.best_epoch,
                                  "seconds": h.seconds}

    cfg = {"net": dataclasses.asdict(net_cfg), "train": dataclasses.asdict(tcfg)}
    return checkpoint.Recipe(name, cfg, train_fn, (x_fit, x_val), MODEL_VERSION, make)


def _sized(net_cfg, tcfg: ARTrainConfig, smoke: bool, overrides):
    if smoke:
        net_cfg, tcfg = net_cfg.smoke(), tcfg.smoke()
    return override(net_cfg, overrides, "net"), override(tcfg, overrides, "train")


_MADE_TRAIN = ARTrainConfig(n_epochs=100, batch_size=64, lr=1e-3, patience=5)


def ch10_made_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """MADE with one hidden layer of 500 units (plus direct connections), raster ordering."""
    ncfg, tcfg = _sized(MADEConfig(hidden=(500,)), _MADE_TRAIN, smoke, overrides)
    return _recipe("ch10_made_mnist", ncfg, lambda: MADE(ncfg), tcfg, smoke)


def ch10_made_mnist_random_order(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """The same MADE with one random pixel ordering instead of the raster order."""
    ncfg, tcfg = _sized(MADEConfig(hidden=(500,), natural_first=False), _MADE_TRAIN, smoke, overrides)
    return _recipe("ch10_made_mnist_random_order", ncfg, lambda: MADE(ncfg), tcfg, smoke)


def ch10_pixelcnn_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """The original PixelCNN stack (7x7 type A, six residual 3x3 type B layers, 32 channels)."""
    ncfg = PixelCNNConfig(channels=32, n_layers=6, dropout=0.1)
    tcfg = ARTrainConfig(n_epochs=6, batch_size=32, lr=2e-3, patience=3)
    ncfg, tcfg = _sized(ncfg, tcfg, smoke, overrides)
    return _recipe("ch10_pixelcnn_mnist", ncfg, lambda: PixelCNN(ncfg), tcfg, smoke)


def ch10_gated_pixelcnn_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Gated PixelCNN, vertical + horizontal stacks (no blind spot): 24 channels, five gated layers."""
    ncfg = PixelCNNConfig(channels=24, n_layers=5, dropout=0.1)
    tcfg = ARTrainConfig(n_epochs=4, batch_size=32, lr=2e-3, patience=3)
    ncfg, tcfg = _sized(ncfg, tcfg, smoke, overrides)
    return _recipe("ch10_gated_pixelcnn_mnist", ncfg, lambda: GatedPixelCNN(ncfg), tcfg, smoke)


def ch10_transformer_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """A two-block causal Transformer over the 784-pixel sequence (width 32, two heads)."""
    ncfg = TransformerConfig(seq_len=784, d_model=32, n_heads=2, n_layers=2, dropout=0.0, fused=True)
    tcfg = ARTrainConfig(n_epochs=3, batch_size=32, lr=2e-3, patience=3)
    ncfg, tcfg = _sized(ncfg, tcfg, smoke, overrides)
    return _recipe("ch10_transformer_mnist", ncfg, lambda: PixelTransformer(ncfg), tcfg, smoke)
