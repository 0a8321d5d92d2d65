"""Cached models of chapter 07, as :class:`ppl_models.checkpoint.Recipe` objects.

Each function builds the exact name, config, data and version the chapter passes to
``checkpoint.load_or_train``, so the chapter, later chapters that reuse the model, and the
command line all read and write the same cache entry.
"""

from __future__ import annotations

import dataclasses

import torch

from .. import checkpoint, config, data
from ..classifier import to_signed
from ..exact2d import eight_gaussians
from ..nets import TimeMLP, UNet, UNetConfig
from ..train.registry import override
from .sde import VPSDE
from .training import TRAINING_VERSION, DenoiserConfig, train_denoiser

__all__ = ["ch07_unet_mnist", "ch07_toy_eps"]


def ch07_unet_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 07's class-conditional MNIST-5k U-Net (label dropout for classifier-free guidance).

    Trained with the linear VP SDE on pixels in [-1, 1]; the state is the EMA of the weights.
    ``smoke`` selects the tiny config on the first 256 training images; ``overrides``
    (``unet.*``, ``train.*``) change the config (and so the cache key).
    """
    mnist = data.load_mnist5k()
    x_img = to_signed(mnist.x_train).view(-1, 1, 28, 28)
    y_img = mnist.y_train
    if smoke:
        x_img, y_img = x_img[:256], y_img[:256]
    ucfg = UNetConfig(channels=(8, 16, 32), time_dim=32, n_classes=10, groups=4)
    tcfg = DenoiserConfig()
    if smoke:
        ucfg, tcfg = ucfg.smoke(), tcfg.smoke()
    ucfg, tcfg = override(ucfg, overrides, "unet"), override(tcfg, overrides, "train")
    sde = VPSDE("linear")

    def train_fn():
        torch.manual_seed(tcfg.seed)                 # the initial weights
        dev = config.get_device()                    # the chapter trains on the CPU; a GPU gives the same key
        net = UNet(ucfg).to(dev)
        hist, ema = train_denoiser(net, x_img.to(dev), sde, tcfg, y=y_img.to(dev), null_index=ucfg.n_classes)
        return ema, {"loss": hist.loss, "step_loss": hist.step_loss, "seconds": hist.seconds}

    return checkpoint.Recipe(
        name="ch07_unet_mnist", cfg={"unet": dataclasses.asdict(ucfg), "train": dataclasses.asdict(tcfg)},
        train_fn=train_fn, data=(x_img, y_img), version=TRAINING_VERSION, make_model=lambda: UNet(ucfg))


def ch07_toy_eps(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 07's 2-D noise-prediction MLP on eight Gaussians (exact likelihoods to compare with).

    ``overrides``: ``net`` (the hidden widths, a list) and ``train.*``.
    """
    gen = torch.Generator().manual_seed(1)
    x_toy = eight_gaussians(noise=0.1).sample(2_000 if smoke else 20_000, gen).float()
    hidden = (64, 64) if smoke else (128, 128, 128, 128)
    tcfg = DenoiserConfig(n_epochs=300, batch_size=1024, lr=2e-3, warmup=100, ema_decay=0.9995, t_min=1e-4,
                          log_t_fraction=0.5)
    tcfg = override(tcfg.smoke() if smoke else tcfg, overrides, "train")
    if overrides and "net" in overrides:
        widths = overrides["net"]
        if not (isinstance(widths, list) and widths and all(isinstance(h, int) and h > 0 for h in widths)):
            raise ValueError(f"override net={widths!r}: expected a list of positive widths, e.g. [64,64]")
        hidden = tuple(widths)
    sde = VPSDE("linear")

    def train_fn():
        net = TimeMLP(2, hidden, time_dim=32)             # the chapter trains it on the CPU
        hist, ema = train_denoiser(net, x_toy, sde, tcfg)
        return ema, {"loss": hist.loss, "seconds": hist.seconds}

    cfg = {"net": list(hidden), "train": dataclasses.asdict(tcfg)}
    return checkpoint.Recipe(name="ch07_toy_eps", cfg=cfg, train_fn=train_fn, data=x_toy,
                             version=TRAINING_VERSION, make_model=lambda: TimeMLP(2, hidden, time_dim=32))
