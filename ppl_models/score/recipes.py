"""Cached models of chapter 06, as :class:`ppl_models.checkpoint.Recipe` objects.

Each function builds the exact name, config, data and version chapter 06 passes to
``checkpoint.load_or_train`` (and the same ``extra``), so ``python -m ppl_models.train <name>``
fills the entry the chapter loads. ``overrides`` change the config and so the key: bare
:class:`ScoreTrainConfig` field names for the 2-D score nets, ``unet.*`` / ``train.*`` for the
NCSN. The sample sets the chapter caches are draws from these models and have no recipe.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace

import torch

from .. import checkpoint, config, data, exact2d
from ..nets import TimeMLP, UNet, UNetConfig
from ..train.registry import override
from .ladder import overlap_ratio
from .training import TRAINING_VERSION, ScoreTrainConfig, train_score_net

__all__ = ["ch06_toy_esm", "ch06_toy_ism", "ch06_toy_ssm", "ch06_toy_dsm", "ch06_two_dsm", "ch06_ncsn_mnist"]


def _toy_net(name: str, objective: str, cfg: ScoreTrainConfig, x: torch.Tensor, true_score=None):
    cfg = replace(cfg, objective=objective)
    dev = config.get_device()

    def train_fn():
        net = TimeMLP(2).to(dev)
        hist, ema_state = train_score_net(net, x, cfg, true_score=true_score)
        return ema_state, {"loss": hist.loss, "seconds": hist.seconds}

    return checkpoint.Recipe(
        f"ch06_{name}_{objective}", asdict(cfg), train_fn, x, TRAINING_VERSION, lambda: TimeMLP(2)
    )


def _eight(smoke: bool, objective: str, overrides) -> checkpoint.Recipe:
    dev = config.get_device()
    gm8 = exact2d.eight_gaussians(noise=0.1, dtype=torch.float32, device=dev)
    x8 = gm8.sample(2_000 if smoke else 20_000, generator=torch.Generator(device=dev).manual_seed(0))
    cfg = ScoreTrainConfig(sigma_max=4.0, sigma_min=0.05, n_levels=10, n_epochs=75, batch_size=512)
    cfg = override(cfg.smoke() if smoke else cfg, overrides)
    return _toy_net("toy", objective, cfg, x8, lambda y, s: gm8.score(y, sigma=s))


def ch06_toy_esm(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 06's 2-D score net on eight Gaussians, explicit score matching (exact target)."""
    return _eight(smoke, "esm", overrides)


def ch06_toy_ism(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 06's 2-D score net on eight Gaussians, implicit score matching."""
    return _eight(smoke, "ism", overrides)


def ch06_toy_ssm(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 06's 2-D score net on eight Gaussians, sliced score matching."""
    return _eight(smoke, "ssm", overrides)


def ch06_toy_dsm(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 06's 2-D score net on eight Gaussians, denoising score matching."""
    return _eight(smoke, "dsm", overrides)


def ch06_two_dsm(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 06's 2-D score net on the two-component mixture (weights 0.8 / 0.2), denoising."""
    dev = config.get_device()
    gm2 = exact2d.two_component(dtype=torch.float32, device=dev)
    x2 = gm2.sample(2_000 if smoke else 20_000, generator=torch.Generator(device=dev).manual_seed(1))
    cfg = ScoreTrainConfig(sigma_max=10.0, sigma_min=0.5, n_levels=20, n_epochs=40, batch_size=512)
    return _toy_net("two", "dsm", override(cfg.smoke() if smoke else cfg, overrides), x2)


def ch06_ncsn_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 06's noise-conditional score network (U-Net) on MNIST-5k, denoising score matching."""
    dev = config.get_device()
    mnist = data.load_mnist5k(device=dev)
    x_img = (2.0 * mnist.x_train - 1.0).view(-1, 1, 28, 28)  # pixels in [-1, 1]
    sigma_max = float(torch.cdist(x_img.flatten(1), x_img.flatten(1)).max().ceil())
    sigma_min = 0.02
    gamma = overlap_ratio(x_img[0].numel())
    n_levels = 1 + math.ceil(math.log(sigma_max / sigma_min) / math.log(gamma))
    unet_cfg = UNetConfig(channels=(16, 32), time_dim=32)
    ncsn_cfg = ScoreTrainConfig(
        sigma_max=sigma_max,
        sigma_min=sigma_min,
        n_levels=n_levels,
        n_epochs=14,
        batch_size=64,
        lr=2e-3,
        warmup=100,
        ema_decay=0.99,
    )
    if smoke:
        unet_cfg, ncsn_cfg = unet_cfg.smoke(), ncsn_cfg.smoke()
        x_img = x_img[:256]
    unet_cfg, ncsn_cfg = override(unet_cfg, overrides, "unet"), override(ncsn_cfg, overrides, "train")

    def train_fn():
        net = UNet(unet_cfg).to(dev)
        hist, ema_state = train_score_net(net, x_img, ncsn_cfg)
        return ema_state, {"loss": hist.loss, "seconds": hist.seconds}

    return checkpoint.Recipe(
        "ch06_ncsn_mnist",
        {"unet": asdict(unet_cfg), "train": asdict(ncsn_cfg)},
        train_fn,
        x_img,
        TRAINING_VERSION,
        lambda: UNet(unet_cfg),
    )
