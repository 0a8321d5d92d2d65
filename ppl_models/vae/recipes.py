"""Cached models of chapter 04, as :class:`ppl_models.checkpoint.Recipe` objects.

Each function builds the exact name, config, data and version chapter 04 passes to
``checkpoint.load_or_train`` (and the same ``extra`` its training function returns), so
``python -m ppl_models.train <name>`` fills the entry the chapter loads. ``overrides``
(bare :class:`VAEConfig` field names, e.g. ``n_epochs=5``) change the config and so the key.
"""

from __future__ import annotations

import math

from .. import checkpoint, config, data, metrics
from ..train.registry import override
from . import MODEL_VERSION
from .config import VAEConfig
from .model import VAE
from .training import train_m2, train_vae
from .variants import M2, ConditionalVAE, one_hot

__all__ = [
    "ch04_vae_swissroll",
    "ch04_vae_mnist",
    "ch04_vae_mnist_z2",
    "ch04_vae_digits_conv",
    "ch04_vae_digits_mlp",
    "ch04_beta_vae",
    "ch04_cvae_mnist",
    "ch04_cvae_mnist_z2",
    "ch04_m2_mnist",
]

_MNIST_CFG = dict(hidden=(400,), z_dim=50, n_epochs=40, batch_size=128, warmup_epochs=10)
_DIGITS_CFG = dict(
    image_shape=(8, 8),
    arch="conv",
    channels=16,
    hidden=(128,),
    z_dim=8,
    batch_size=64,
    n_epochs=100,
    warmup_epochs=10,
)


def _mnist(smoke: bool):
    """Chapter 04's statically binarised MNIST-5k split (600 / 200 images in smoke mode)."""
    mnist = data.load_mnist5k(binarized=True, device=config.get_device())
    return mnist.subset(600, 200) if smoke else mnist


def _sized(cfg: VAEConfig, smoke: bool, overrides) -> VAEConfig:
    return override(cfg.smoke() if smoke else cfg, overrides)


def ch04_vae_swissroll(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 04's one-latent Gaussian VAE on chapter 02's Swiss roll (compared with PPCA)."""
    dev = config.get_device()
    n_roll = 400 if smoke else 2000
    roll_tr = data.make_toy_2d("swiss_roll", n_roll, seed=0, device=dev)
    cfg = VAEConfig(
        image_shape=(1, 2),
        z_dim=1,
        hidden=(64, 64),
        likelihood="gaussian",
        lr=3e-3,
        batch_size=128,
        n_epochs=150,
        warmup_epochs=10,
        elbo="meanfield",
    )
    cfg = override(cfg.replace(n_epochs=3, warmup_epochs=0) if smoke else cfg, overrides)

    def train_fn():
        model = VAE(cfg).to(dev)
        h = train_vae(model, roll_tr, cfg)
        return model.state_dict(), {"loss": h.loss}

    return checkpoint.Recipe(
        "ch04_vae_swissroll", checkpoint.config_dict(cfg), train_fn, roll_tr, MODEL_VERSION, lambda: VAE(cfg)
    )


def _mnist_vae(name: str, cfg: VAEConfig, smoke: bool) -> checkpoint.Recipe:
    mnist = _mnist(smoke)
    x_eval = mnist.x_test[: 100 if smoke else 500]
    steps_per_epoch = math.ceil(len(mnist.x_train) / cfg.batch_size)
    dev = config.get_device()

    def train_fn():
        model = VAE(cfg).to(dev)

        def test_elbo(step):
            return float(metrics.elbo(model.log_weights, x_eval).mean())

        h = train_vae(model, mnist.x_train, cfg, eval_fn=test_elbo, eval_every=5 * steps_per_epoch)
        return model.state_dict(), {"loss": h.loss, "evals": h.evals, "seconds": h.seconds}

    return checkpoint.Recipe(
        name, checkpoint.config_dict(cfg), train_fn, (mnist.x_train, x_eval), MODEL_VERSION, lambda: VAE(cfg)
    )


def ch04_vae_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 04's 50-latent MLP VAE on binarised MNIST-5k (also chapter 05's likelihood reference)."""
    return _mnist_vae("ch04_vae_mnist", _sized(VAEConfig(**_MNIST_CFG), smoke, overrides), smoke)


def ch04_vae_mnist_z2(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 04's two-latent MNIST VAE (the latent-space map): the 50-latent config with z_dim=2."""
    cfg = VAEConfig(**_MNIST_CFG)
    cfg = (cfg.smoke() if smoke else cfg).replace(z_dim=2)
    return _mnist_vae("ch04_vae_mnist_z2", override(cfg, overrides), smoke)


def _digits_vae(name: str, cfg: VAEConfig) -> checkpoint.Recipe:
    dev = config.get_device()
    digits = data.load_digits(binarized=True, device=dev)

    def train_fn():
        model = VAE(cfg).to(dev)
        h = train_vae(model, digits.x_train, cfg)
        return model.state_dict(), {"loss": h.loss}

    return checkpoint.Recipe(
        name, checkpoint.config_dict(cfg), train_fn, digits.x_train, MODEL_VERSION, lambda: VAE(cfg)
    )


def ch04_vae_digits_conv(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 04's convolutional VAE on binarised 8x8 digits."""
    return _digits_vae("ch04_vae_digits_conv", _sized(VAEConfig(**_DIGITS_CFG), smoke, overrides))


def ch04_vae_digits_mlp(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 04's MLP VAE on binarised 8x8 digits (the convolutional one's config with arch='mlp')."""
    cfg = VAEConfig(**_DIGITS_CFG)
    cfg = (cfg.smoke() if smoke else cfg).replace(arch="mlp")
    return _digits_vae("ch04_vae_digits_mlp", override(cfg, overrides))


def ch04_beta_vae(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 04's beta-VAE on 8x8 digits at beta = 1; ``--set beta=B`` for the chapter's 0.5, 2, 4, 8."""
    cfg = VAEConfig(
        image_shape=(8, 8), z_dim=16, hidden=(128,), batch_size=64, n_epochs=40, warmup_epochs=5, beta=1.0
    )
    return _digits_vae("ch04_beta_vae", _sized(cfg, smoke, overrides))


def _cvae(name: str, cfg: VAEConfig, smoke: bool) -> checkpoint.Recipe:
    mnist = _mnist(smoke)
    y_oh = one_hot(mnist.y_train, 10)
    dev = config.get_device()

    def train_fn():
        model = ConditionalVAE(cfg, n_classes=10).to(dev)
        h = train_vae(model, mnist.x_train, cfg, c=y_oh)
        return model.state_dict(), {"loss": h.loss}

    return checkpoint.Recipe(
        name,
        checkpoint.config_dict(cfg),
        train_fn,
        (mnist.x_train, y_oh),
        MODEL_VERSION,
        lambda: ConditionalVAE(cfg, n_classes=10),
    )


def ch04_cvae_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 04's conditional VAE with 20 latents (the label is mostly ignored)."""
    cfg = VAEConfig(hidden=(400,), z_dim=20, n_epochs=20, batch_size=128, warmup_epochs=5)
    return _cvae("ch04_cvae_mnist", _sized(cfg, smoke, overrides), smoke)


def ch04_cvae_mnist_z2(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 04's conditional VAE with 2 latents (the label carries the digit)."""
    cfg = VAEConfig(hidden=(400,), z_dim=2, n_epochs=100, batch_size=128, warmup_epochs=5)
    return _cvae("ch04_cvae_mnist_z2", _sized(cfg, smoke, overrides), smoke)


def ch04_m2_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 04's semi-supervised M2 with 10 labels per class."""
    import torch

    mnist = _mnist(smoke)
    lab_idx = torch.cat([torch.nonzero(mnist.y_train == c)[:10, 0] for c in range(10)])
    x_lab, y_lab = mnist.x_train[lab_idx], mnist.y_train[lab_idx]
    cfg = VAEConfig(hidden=(256,), z_dim=20, n_epochs=4, batch_size=128, warmup_epochs=0)
    cfg = override(cfg.smoke().replace(n_epochs=1) if smoke else cfg, overrides)
    dev = config.get_device()

    def train_fn():
        model = M2(cfg, n_classes=10, alpha=50.0).to(dev)
        h = train_m2(model, mnist.x_train, x_lab, y_lab, cfg)
        return model.state_dict(), {"loss": h.loss, "seconds": h.seconds}

    return checkpoint.Recipe(
        "ch04_m2_mnist",
        checkpoint.config_dict(cfg),
        train_fn,
        (mnist.x_train, x_lab, y_lab),
        MODEL_VERSION,
        lambda: M2(cfg, n_classes=10, alpha=50.0),
    )
