"""Cached models of chapter 08, as :class:`ppl_models.checkpoint.Recipe` objects.

Each function builds the exact name, config, data and version the chapter passes to
``checkpoint.load_or_train``, so the chapter and the command line read and write the same entry.
"""

from __future__ import annotations

import dataclasses

import torch

from .. import checkpoint, config, data
from ..classifier import to_signed
from ..nets import UNet, UNetConfig
from ..train.registry import override
from .paths import CondOTPath
from .training import MODEL_VERSION, FlowConfig, train_flow

__all__ = ["ch08_flow_unet_mnist"]

N_EPOCHS = 70  # chapter 07's U-Net budget (ch07_unet_mnist: DenoiserConfig().n_epochs)


def ch08_flow_unet_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 08's MNIST-5k velocity U-Net: chapter 07's U-Net config, straight path.

    Same network (``UNetConfig(channels=(8, 16, 32), time_dim=32, n_classes=10, groups=4)``), same
    4,000 training images in ``[-1, 1]``, same epochs, batch, optimiser, label dropout and EMA as
    ``ch07_unet_mnist``; only the target differs (the velocity of :class:`.CondOTPath`, independent
    coupling). ``overrides``: ``unet.*``, ``train.*``.
    """
    mnist = data.load_mnist5k()
    x_img = to_signed(mnist.x_train).view(-1, 1, 28, 28)
    y_img = mnist.y_train
    if smoke:
        x_img, y_img = x_img[:256], y_img[:256]
    ucfg = UNetConfig(channels=(8, 16, 32), time_dim=32, n_classes=10, groups=4)
    tcfg = FlowConfig(n_epochs=N_EPOCHS)
    if smoke:
        ucfg, tcfg = ucfg.smoke(), tcfg.smoke()
    ucfg, tcfg = override(ucfg, overrides, "unet"), override(tcfg, overrides, "train")
    path = CondOTPath()

    def train_fn():
        torch.manual_seed(tcfg.seed)
        dev = config.get_device()
        net = UNet(ucfg).to(dev)
        hist, ema = train_flow(net, x_img.to(dev), path, tcfg, y=y_img.to(dev), null_index=ucfg.n_classes)
        return ema, {"loss": hist.loss, "step_loss": hist.step_loss, "seconds": hist.seconds}

    cfg = {"unet": dataclasses.asdict(ucfg), "train": dataclasses.asdict(tcfg),
           "path": {"kind": "cond_ot", "sigma_min": path.sigma_min}}
    return checkpoint.Recipe(name="ch08_flow_unet_mnist", cfg=cfg, train_fn=train_fn, data=(x_img, y_img),
                             version=MODEL_VERSION, make_model=lambda: UNet(ucfg))
