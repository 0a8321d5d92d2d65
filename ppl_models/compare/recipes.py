"""Chapter 11's cached models: every family trained on chapter 04's statically binarised MNIST-5k.

The binary-data models of earlier chapters are used through their own recipes (``ch04_vae_mnist``,
``ch05_rbm_cd1``, the better of chapter 05's two 200-unit RBMs, and ``ch10_made_mnist_random_order``);
a cache trained on another machine or run is another training of the same recipe, so estimates
such as an RBM's AIS log Z need not match the family chapter's stored outputs. The families that
chapters 05-09 trained on other data get a binary-data config here, built from the same package
code:

* ``ch11_bmm_mnist``: a mixture of 50 Bernoullis fitted by EM.
* ``ch11_ebm_mnist``: chapter 05's image-EBM hyperparameters (replay buffer, energy regulariser,
  epochs; there an EBM of 8x8 digits with another network) with an MLP energy on the 784 pixels
  in ``{-1, +1}``.
* ``ch11_ncsn_mnist``: chapter 06's noise-conditional score network (its ladder rule and
  optimiser) with the U-Net of chapters 07-08.
* ``ch11_ddpm_mnist`` / ``ch11_flow_mnist``: chapters 07 and 08's U-Net, unconditional (those
  chapters train it class-conditional), with fewer epochs than there (``UNET_EPOCHS``).
* ``ch11_gan_mnist``: chapter 09's DCGAN recipe.

Continuous models see the binary pixels as ``{-1, +1}``. Smoke mode trains on the first 600
images (the U-Nets on the first 256), with each config's ``.smoke()`` variant.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from .. import checkpoint, config, data
from ..diffusion.sde import VPSDE
from ..diffusion.training import TRAINING_VERSION as DIFFUSION_VERSION
from ..diffusion.training import DenoiserConfig, train_denoiser
from ..ebm import MODEL_VERSION as EBM_VERSION
from ..ebm.deep import DeepEBMConfig, train_ebm
from ..flows.paths import CondOTPath
from ..flows.training import MODEL_VERSION as FLOW_VERSION
from ..flows.training import FlowConfig, train_flow
from ..gan.recipes import dcgan_config, dcgan_discriminator, dcgan_generator
from ..gan.training import TRAINING_VERSION as GAN_VERSION
from ..gan.training import train_gan
from ..mixtures.bernoulli import BMMConfig, fit_bmm
from ..nets import MLP, UNet, UNetConfig
from ..score.ladder import overlap_ratio
from ..score.training import TRAINING_VERSION as SCORE_VERSION
from ..score.training import ScoreTrainConfig, train_score_net
from ..train.registry import override

__all__ = ["ch11_bmm_mnist", "ch11_ebm_mnist", "ch11_ncsn_mnist", "ch11_ddpm_mnist", "ch11_flow_mnist",
           "ch11_gan_mnist", "binary_mnist", "signed_images", "UNET", "UNET_EPOCHS", "BMM_VERSION",
           "ebm_energy_net"]

BMM_VERSION = 1
UNET = UNetConfig(channels=(8, 16, 32), time_dim=32, groups=4)  # chapters 07-08's U-Net, no labels
UNET_EPOCHS = 20   # chapters 07 and 08 train this U-Net for 70 epochs; here 20 (a CPU budget)
EBM_HIDDEN = (256, 256)


def binary_mnist(smoke: bool) -> data.ImageData:
    """Chapter 04's statically binarised MNIST-5k split (smoke: the first 600 / 200 images)."""
    mnist = data.load_mnist5k(binarized=True, device=config.get_device())
    return mnist.subset(600, 200) if smoke else mnist


def signed_images(x: torch.Tensor) -> torch.Tensor:
    """Binary ``(N, 784)`` pixels in {0, 1} as ``(N, 1, 28, 28)`` images in {-1, +1}."""
    return (2.0 * x - 1.0).view(-1, 1, 28, 28)


def ch11_bmm_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """A mixture of 50 Bernoullis on binarised MNIST-5k, fitted by EM (Beta(2, 2) prior on each pixel)."""
    cfg = BMMConfig(n_components=50, n_iter=200)
    cfg = override(cfg.smoke() if smoke else cfg, overrides)
    x = binary_mnist(smoke).x_train

    def train_fn():
        fit = fit_bmm(x, cfg)
        state = {"weights": fit.params.weights, "probs": fit.params.probs}
        return state, {"objective": fit.objective, "seconds": fit.seconds}

    return checkpoint.Recipe("ch11_bmm_mnist", checkpoint.config_dict(cfg), train_fn, x, BMM_VERSION)


def ebm_energy_net() -> MLP:
    """``E(x)``: an MLP from the 784 pixels to one number (SiLU, hidden widths ``EBM_HIDDEN``)."""
    return MLP(784, EBM_HIDDEN, 1, activation="silu", seed=0)


def ch11_ebm_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 05's image-EBM recipe on binarised MNIST-5k in {-1, +1}; state: net and buffer."""
    cfg = DeepEBMConfig(n_steps=30, lr=3e-4, n_epochs=40, buffer_size=2000)   # chapter 05's image EBM
    cfg = override(cfg.smoke() if smoke else cfg, overrides)
    x = signed_images(binary_mnist(smoke).x_train).flatten(1)
    dev = x.device

    def train_fn():
        net = ebm_energy_net().to(dev)
        run = train_ebm(lambda v: net(v).squeeze(-1), net.parameters(), x, cfg)
        return {"net": net.state_dict(), "buffer": run.buffer.x}, {
            "loss": run.history.loss, "seconds": run.history.seconds, "e_pos": run.e_pos, "e_neg": run.e_neg}

    cfg_d = {"ebm": checkpoint.config_dict(cfg), "hidden": list(EBM_HIDDEN)}
    return checkpoint.Recipe("ch11_ebm_mnist", cfg_d, train_fn, x, EBM_VERSION)


def _unet_images(smoke: bool) -> torch.Tensor:
    x = signed_images(binary_mnist(smoke).x_train)
    return x[:256] if smoke else x


def _unet_cfg(smoke: bool, overrides) -> UNetConfig:
    return override(UNET.smoke() if smoke else UNET, overrides, "unet")


def ch11_ncsn_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 06's NCSN recipe (ladder rule, optimiser, 14 epochs) with the U-Net of chapters 07-08."""
    x = _unet_images(smoke)
    sigma_max = float(torch.cdist(x.flatten(1), x.flatten(1)).max().ceil())    # chapter 06's rule
    sigma_min = 0.02
    n_levels = 1 + math.ceil(math.log(sigma_max / sigma_min) / math.log(overlap_ratio(x[0].numel())))
    tcfg = ScoreTrainConfig(sigma_max=sigma_max, sigma_min=sigma_min, n_levels=n_levels, n_epochs=14,
                            batch_size=64, lr=2e-3, warmup=100, ema_decay=0.99)
    ucfg = _unet_cfg(smoke, overrides)
    tcfg = override(tcfg.smoke() if smoke else tcfg, overrides, "train")

    def train_fn():
        net = UNet(ucfg).to(x.device)
        hist, ema = train_score_net(net, x, tcfg)
        return ema, {"loss": hist.loss, "seconds": hist.seconds}

    cfg = {"unet": dataclasses.asdict(ucfg), "train": dataclasses.asdict(tcfg)}
    return checkpoint.Recipe("ch11_ncsn_mnist", cfg, train_fn, x, SCORE_VERSION, lambda: UNet(ucfg))


def ch11_ddpm_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 07's U-Net and denoiser recipe (linear VP SDE), unconditional, fewer epochs."""
    x = _unet_images(smoke)
    ucfg = _unet_cfg(smoke, overrides)
    tcfg = DenoiserConfig(n_epochs=UNET_EPOCHS)
    tcfg = override(tcfg.smoke() if smoke else tcfg, overrides, "train")

    def train_fn():
        net = UNet(ucfg).to(x.device)
        hist, ema = train_denoiser(net, x, VPSDE("linear"), tcfg)
        return ema, {"loss": hist.loss, "seconds": hist.seconds}

    cfg = {"unet": dataclasses.asdict(ucfg), "train": dataclasses.asdict(tcfg), "sde": "vp_linear"}
    return checkpoint.Recipe("ch11_ddpm_mnist", cfg, train_fn, x, DIFFUSION_VERSION, lambda: UNet(ucfg))


def ch11_flow_mnist(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 08's flow-matching recipe (straight path, independent coupling), unconditional."""
    x = _unet_images(smoke)
    ucfg = _unet_cfg(smoke, overrides)
    tcfg = FlowConfig(n_epochs=UNET_EPOCHS)
    tcfg = override(tcfg.smoke() if smoke else tcfg, overrides, "train")
    path = CondOTPath()

    def train_fn():
        net = UNet(ucfg).to(x.device)
        hist, ema = train_flow(net, x, path, tcfg)
        return ema, {"loss": hist.loss, "seconds": hist.seconds}

    cfg = {"unet": dataclasses.asdict(ucfg), "train": dataclasses.asdict(tcfg),
           "path": {"kind": "cond_ot", "sigma_min": path.sigma_min}}
    return checkpoint.Recipe("ch11_flow_mnist", cfg, train_fn, x, FLOW_VERSION, lambda: UNet(ucfg))


def ch11_gan_mnist(smoke: bool) -> checkpoint.Recipe:
    """Chapter 09's DCGAN recipe (networks, loss, optimiser, epochs) on binarised MNIST-5k in {-1, +1}."""
    x = signed_images(binary_mnist(smoke).x_train)
    cfg = dcgan_config(smoke)

    def train_fn():
        G, D = dcgan_generator(cfg.z_dim, smoke).to(x.device), dcgan_discriminator(smoke).to(x.device)
        h = train_gan(G, D, x, cfg)
        return G.state_dict(), {"d_loss": h.d_loss, "g_loss": h.g_loss, "seconds": h.seconds}

    return checkpoint.Recipe("ch11_gan_mnist", {"gan": dataclasses.asdict(cfg), "smoke_nets": bool(smoke)},
                             train_fn, x, GAN_VERSION, lambda: dcgan_generator(cfg.z_dim, smoke))
