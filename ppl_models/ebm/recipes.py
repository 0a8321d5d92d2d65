"""Cached models of chapter 05, as :class:`ppl_models.checkpoint.Recipe` objects.

Each function builds the exact name, config, data and version chapter 05 passes to
``checkpoint.load_or_train`` (and the same ``extra``), so ``python -m ppl_models.train <name>``
fills the entry the chapter loads. ``overrides`` (bare config field names, e.g. ``n_epochs=5``)
change the config and so the key. The AIS estimates the chapter caches are computations on
these models, not models, and have no recipe.
"""

from __future__ import annotations

from dataclasses import replace

from .. import checkpoint, config, data
from ..classifier import to_signed
from ..nets import MLP
from ..train.registry import override
from . import MODEL_VERSION
from .deep import DeepEBMConfig, GridMLConfig, train_ebm, train_grid_ml
from .training import RBMConfig, init_rbm, train_rbm

__all__ = [
    "ch05_rbm_cd1",
    "ch05_rbm_pcd1",
    "ch05_rbm16_cd1",
    "ch05_rbm16_pcd1",
    "ch05_ebm2d_grid",
    "ch05_ebm2d_moons_grid",
    "ch05_ebm2d_pcd",
    "ch05_ebm2d_shortrun",
    "ch05_ebm2d_drift_reg",
    "ch05_ebm2d_drift_free",
    "ch05_ebm_digits",
    "ch05_ebm_digits_noreg",
]


def _rbm(name: str, cfg: RBMConfig, smoke: bool) -> checkpoint.Recipe:
    mnist = data.load_mnist5k(binarized=True, device=config.get_device())  # chapter 04's binarisation
    x = mnist.subset(600, 200).x_train if smoke else mnist.x_train

    def train_fn():
        rbm = init_rbm(x, cfg)
        h = train_rbm(rbm, x, cfg)
        return rbm.state_dict(), {"loss": h.loss, "seconds": h.seconds}

    return checkpoint.Recipe(
        name, checkpoint.config_dict(cfg), train_fn, x, MODEL_VERSION, lambda: init_rbm(x, cfg)
    )


def _rbm200(smoke: bool, overrides) -> RBMConfig:
    cfg = RBMConfig(n_hidden=200, k=1, n_epochs=40)
    return cfg.smoke() if smoke else cfg


def ch05_rbm_cd1(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 05's 200-hidden-unit RBM on binarised MNIST-5k, trained by CD-1."""
    return _rbm("ch05_rbm_cd1", override(_rbm200(smoke, overrides), overrides), smoke)


def ch05_rbm_pcd1(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 05's 200-hidden-unit RBM trained by persistent CD-1."""
    return _rbm(
        "ch05_rbm_pcd1", override(replace(_rbm200(smoke, overrides), persistent=True), overrides), smoke
    )


def ch05_rbm16_cd1(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 05's 16-hidden-unit RBM (exact log Z to check AIS), CD-1."""
    return _rbm(
        "ch05_rbm16_cd1", override(RBMConfig(n_hidden=16, n_epochs=2 if smoke else 10), overrides), smoke
    )


def ch05_rbm16_pcd1(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 05's 16-hidden-unit RBM, persistent CD-1."""
    cfg = RBMConfig(n_hidden=16, n_epochs=2 if smoke else 10, persistent=True)
    return _rbm("ch05_rbm16_pcd1", override(cfg, overrides), smoke)


def _energy_2d(dev):
    return MLP(2, (64, 64, 64), 1, activation="silu", seed=0).to(dev)  # E(x): R^2 -> R


def _ebm_2d(name: str, cfg, x) -> checkpoint.Recipe:
    dev = config.get_device()

    def train_fn():
        net = _energy_2d(dev)

        def energy(v):
            return net(v).squeeze(-1)

        if isinstance(cfg, GridMLConfig):
            h = train_grid_ml(energy, net.parameters(), x, cfg)
            return net.state_dict(), {"loss": h.loss, "seconds": h.seconds, "steps": h.steps}
        run = train_ebm(energy, net.parameters(), x, cfg)
        return net.state_dict(), {
            "loss": run.history.loss,
            "seconds": run.history.seconds,
            "steps": run.history.steps,
            "e_pos": run.e_pos,
            "e_neg": run.e_neg,
        }

    return checkpoint.Recipe(
        name, checkpoint.config_dict(cfg), train_fn, x, MODEL_VERSION, lambda: _energy_2d(dev)
    )


def _toy(name: str, smoke: bool, **kw):
    n2d = 1000 if smoke else 5000
    return data.make_toy_2d(name, n2d, seed=0, device=config.get_device(), **kw)


def _grid(smoke: bool) -> GridMLConfig:
    cfg = GridMLConfig(lim=(-3.5, 3.5), n_grid=64, lr=5e-3, batch_size=1000, n_epochs=400)
    return cfg.smoke() if smoke else cfg


def _pcd2d(smoke: bool) -> DeepEBMConfig:
    cfg = DeepEBMConfig(
        n_steps=30,
        step_size=0.005,
        temperature=1.0,
        buffer_size=5000,
        alpha=0.01,
        lr=1e-3,
        betas=(0.9, 0.999),
        batch_size=256,
        n_epochs=60,
        data_noise=0.0,
        init_range=(-3.5, 3.5),
        clamp=False,
        clip_grad_norm=None,
    )
    return cfg.smoke() if smoke else cfg


def ch05_ebm2d_grid(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 05's 2-D energy on eight Gaussians, exact maximum likelihood on a grid."""
    return _ebm_2d(
        "ch05_ebm2d_grid", override(_grid(smoke), overrides), _toy("eight_gaussians", smoke, noise=0.2)
    )


def ch05_ebm2d_moons_grid(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 05's 2-D energy on two moons, exact maximum likelihood on a grid."""
    cfg = replace(_grid(smoke), lim=(-2.5, 2.5), n_grid=80)
    cfg = override(cfg.smoke() if smoke else cfg, overrides)
    return _ebm_2d("ch05_ebm2d_moons_grid", cfg, _toy("two_moons", smoke, noise=0.1))


def ch05_ebm2d_pcd(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 05's 2-D energy on eight Gaussians, persistent contrastive divergence."""
    return _ebm_2d(
        "ch05_ebm2d_pcd", override(_pcd2d(smoke), overrides), _toy("eight_gaussians", smoke, noise=0.2)
    )


def ch05_ebm2d_shortrun(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 05's 2-D energy on eight Gaussians, short-run contrastive divergence (chains from noise)."""
    cfg = override(replace(_pcd2d(smoke), persistent=False), overrides)
    return _ebm_2d("ch05_ebm2d_shortrun", cfg, _toy("eight_gaussians", smoke, noise=0.2))


def _drift(smoke: bool) -> DeepEBMConfig:
    cfg = replace(_pcd2d(smoke), n_steps=10, lr=1e-2, betas=(0.0, 0.999), n_epochs=20, alpha=0.1)
    return cfg.smoke() if smoke else cfg


def ch05_ebm2d_drift_reg(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 05's energy-drift demonstration with the energy regulariser (alpha = 0.1)."""
    return _ebm_2d(
        "ch05_ebm2d_drift_reg", override(_drift(smoke), overrides), _toy("eight_gaussians", smoke, noise=0.2)
    )


def ch05_ebm2d_drift_free(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 05's energy-drift demonstration without the regulariser (alpha = 0)."""
    return _ebm_2d(
        "ch05_ebm2d_drift_free",
        override(replace(_drift(smoke), alpha=0.0), overrides),
        _toy("eight_gaussians", smoke, noise=0.2),
    )


def _energy_img(dev):
    return MLP(64, (256, 256), 1, activation="silu", seed=0).to(dev)


def _ebm_digits(name: str, cfg: DeepEBMConfig) -> checkpoint.Recipe:
    dev = config.get_device()
    xd = to_signed(data.load_digits(device=dev).x_train)  # the EBM sees pixels in [-1, 1]

    def train_fn():
        net = _energy_img(dev)

        def energy(v):
            return net(v).squeeze(-1)

        run = train_ebm(energy, net.parameters(), xd, cfg)
        return {"net": net.state_dict(), "buffer": run.buffer.x}, {
            "loss": run.history.loss,
            "seconds": run.history.seconds,
            "steps": run.history.steps,
            "e_pos": run.e_pos,
            "e_neg": run.e_neg,
        }

    return checkpoint.Recipe(name, checkpoint.config_dict(cfg), train_fn, xd, MODEL_VERSION)


def _img(smoke: bool) -> DeepEBMConfig:
    cfg = DeepEBMConfig(n_steps=30, lr=3e-4, n_epochs=40, buffer_size=2000)
    return cfg.smoke() if smoke else cfg


def ch05_ebm_digits(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 05's deep EBM on 8x8 digits (replay buffer, energy regulariser); state: net and buffer."""
    return _ebm_digits("ch05_ebm_digits", override(_img(smoke), overrides))


def ch05_ebm_digits_noreg(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """Chapter 05's deep EBM on 8x8 digits without the energy regulariser (at most 20 epochs)."""
    cfg = _img(smoke)
    return _ebm_digits(
        "ch05_ebm_digits_noreg", override(replace(cfg, alpha=0.0, n_epochs=min(cfg.n_epochs, 20)), overrides)
    )
