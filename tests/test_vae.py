"""Unit tests for ppl_models.vae: networks, the VAE model/guide, ELBO estimators, training."""

import math

import pyro
import pytest
import torch

from ppl_models import metrics
from ppl_models.vae import (
    MLP,
    VAE,
    ConditionalVAE,
    Decoder,
    Encoder,
    VAEConfig,
    kl_weight,
    make_elbo,
    one_hot,
    train_vae,
)


@pytest.mark.parametrize("shape", [(8, 8), (28, 28)])
@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_networks_shapes_any_leading_dims(shape, arch):
    d = shape[0] * shape[1]
    enc = Encoder(shape, 3, hidden=(16,), arch=arch, cond_dim=4, channels=4)
    dec = Decoder(shape, 3, hidden=(16,), arch=arch, cond_dim=4, channels=4)
    x = torch.rand(5, d)
    c = torch.eye(4)[torch.tensor([0, 1, 2, 3, 0])]
    loc, scale = enc(x, c)
    assert loc.shape == scale.shape == (5, 3) and (scale > 0).all()
    assert dec(loc, c).shape == (5, d)
    # enumerated label (K, 1, C) against a batch (B, D): broadcast to (K, B, .)
    y_all = torch.eye(4).unsqueeze(1)
    loc, _ = enc(x, y_all)
    assert loc.shape == (4, 5, 3)
    assert dec(torch.zeros(2, 4, 5, 3), y_all).shape == (2, 4, 5, d)


def test_networks_bad_inputs():
    with pytest.raises(ValueError, match="image_shape"):
        Encoder((30, 30), 2, arch="conv")
    with pytest.raises(ValueError, match="arch"):
        Decoder((8, 8), 2, arch="transformer")
    with pytest.raises(ValueError, match="activation"):
        MLP(3, (4,), 2, activation="swishy")
    with pytest.raises(ValueError, match="hidden"):
        MLP(3, (0,), 2)


def test_config_smoke_and_validation():
    cfg = VAEConfig()
    s = cfg.smoke()
    assert s.n_epochs <= 2 and s.z_dim <= 8 and max(s.hidden) <= 64 and s.x_dim == 784
    for kw, name in [({"likelihood": "poisson"}, "likelihood"), ({"elbo": "iwae"}, "elbo"),
                     ({"beta": 0.0}, "beta"), ({"z_dim": 0}, "z_dim"), ({"lr": -1.0}, "lr"),
                     ({"hidden": (0,)}, "hidden"), ({"warmup_epochs": -1}, "warmup_epochs"),
                     ({"image_shape": (7, 7), "arch": "conv"}, "image_shape")]:
        with pytest.raises(ValueError, match=name):
            VAEConfig(**kw)


def _vae(likelihood="bernoulli", cond_dim=0, dtype=torch.float64):
    torch.manual_seed(0)
    cfg = VAEConfig(image_shape=(2, 3), z_dim=2, hidden=(8,), likelihood=likelihood)
    return VAE(cfg, cond_dim=cond_dim).to(dtype), cfg


def test_model_samples_from_prior_and_guide_shapes():
    vae, _ = _vae()
    x = vae.model(None, n=7)
    assert x.shape == (7, 6) and set(x.unique().tolist()) <= {0.0, 1.0}
    assert vae.guide(x).shape == (7, 2)
    tr = pyro.poutine.trace(vae.model).get_trace(x)
    assert tr.nodes["x"]["is_observed"] and tr.nodes["z"]["value"].shape == (7, 2)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_log_weights_equal_pyro_trace_of_model_and_guide(likelihood):
    vae, _ = _vae(likelihood)
    x = (torch.rand(5, 6, dtype=torch.float64) < 0.5).double()
    lw_fn = metrics.pyro_log_weights(vae.model, vae.guide)
    torch.manual_seed(3)
    a = lw_fn(x, 4)
    torch.manual_seed(3)
    b = vae.log_weights(x, 4)
    assert a.shape == (4, 5)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_meanfield_elbo_equals_reconstruction_minus_analytic_kl():
    """TraceMeanField_ELBO = E_q log p(x|z) - KL(q||p), with the same z draw."""
    vae, _ = _vae()
    x = (torch.rand(6, 6, dtype=torch.float64) < 0.5).double()
    torch.manual_seed(1)
    loss = make_elbo("meanfield").differentiable_loss(vae.model, vae.guide, x, kl_weight=1.0)
    torch.manual_seed(1)
    q = vae.posterior(x)
    z = q.rsample()
    rec = vae.likelihood(vae.decoder(z)).log_prob(x)
    kl = vae.kl_per_dim(x).sum(-1)
    torch.testing.assert_close(loss, -(rec - kl).sum(), rtol=0, atol=1e-10)
    torch.testing.assert_close(kl, torch.distributions.kl_divergence(q, vae.prior((6,))),
                               rtol=0, atol=1e-12)


def test_beta_scales_only_the_kl_term():
    vae, _ = _vae()
    x = (torch.rand(4, 6, dtype=torch.float64) < 0.5).double()
    elbo = make_elbo("meanfield")
    losses = {}
    for beta in (1.0, 3.0):
        torch.manual_seed(2)
        losses[beta] = elbo.differentiable_loss(vae.model, vae.guide, x, kl_weight=beta)
    kl = vae.kl_per_dim(x).sum()
    torch.testing.assert_close(losses[3.0] - losses[1.0], 2.0 * kl, rtol=0, atol=1e-10)


def test_vae_bad_inputs():
    vae, _ = _vae()
    bad = torch.rand(3, 6, dtype=torch.float64)
    bad[0, 0] = math.nan
    with pytest.raises(ValueError, match="x"):
        vae.model(bad)
    with pytest.raises(ValueError, match="x"):
        vae.guide(torch.rand(3, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="x"):
        vae.log_weights(torch.full((2, 6), 2.0, dtype=torch.float64), 3)
    with pytest.raises(ValueError, match="k"):
        vae.log_weights(torch.zeros(2, 6, dtype=torch.float64), 0)
    with pytest.raises(ValueError, match="c"):
        vae.model(torch.zeros(2, 6, dtype=torch.float64), c=torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="n"):
        vae.model(None)
    with pytest.raises(ValueError, match="cfg"):
        VAE({"z_dim": 2})
    with pytest.raises(ValueError, match="cond_dim"):
        VAE(VAEConfig(), cond_dim=-1)
    with pytest.raises(ValueError, match="x"):
        vae.reconstruct(bad)
    with pytest.raises(ValueError, match="x"):
        vae.kl_per_dim(bad)


def test_conditional_vae_generates_requested_labels_and_checks_c():
    torch.manual_seed(0)
    cvae = ConditionalVAE(VAEConfig(image_shape=(8, 8), z_dim=2, hidden=(8,)), n_classes=10)
    imgs = cvae.generate(torch.arange(10))
    assert imgs.shape == (10, 64) and (imgs >= 0).all() and (imgs <= 1).all()
    x = torch.zeros(3, 64)
    with pytest.raises(ValueError, match="c"):
        cvae.model(x)  # a conditional VAE needs c
    with pytest.raises(ValueError, match="c"):
        cvae.model(x, c=torch.zeros(2, 10))
    with pytest.raises(ValueError, match="n_classes"):
        ConditionalVAE(VAEConfig(), n_classes=1)


def test_one_hot_and_bad_labels():
    torch.testing.assert_close(one_hot(torch.tensor([2, 0]), 3), torch.tensor([[0.0, 0, 1], [1, 0, 0]]))
    with pytest.raises(ValueError, match="y"):
        one_hot(torch.tensor([3]), 3)
    with pytest.raises(ValueError, match="y"):
        one_hot(torch.tensor([0.5]), 3)
    with pytest.raises(ValueError, match="n_classes"):
        one_hot(torch.tensor([0]), 0)


def test_kl_weight_schedule_and_bad_inputs():
    assert [kl_weight(t, 4, 2.0) for t in range(6)] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert kl_weight(0, 0, 0.5) == 0.5
    for args, name in [((-1, 2), "step"), ((0, -2), "warmup_steps"), ((0, 2, 0.0), "beta")]:
        with pytest.raises(ValueError, match=name):
            kl_weight(*args)
    with pytest.raises(ValueError, match="name"):
        make_elbo("renyi")


def test_train_vae_lowers_the_loss_on_digits_sized_data():
    torch.manual_seed(0)
    protos = (torch.rand(3, 64) < 0.5).float()
    x = protos[torch.randint(0, 3, (240,))]
    x = torch.where(torch.rand_like(x) < 0.05, 1 - x, x)
    cfg = VAEConfig(image_shape=(8, 8), z_dim=2, hidden=(32,), n_epochs=15, batch_size=40,
                    warmup_epochs=2, lr=3e-3)
    vae = VAE(cfg)
    hist = train_vae(vae, x, cfg, progress=False)
    assert len(hist.loss) == 15 and hist.loss[-1] < 0.6 * hist.loss[0]
    with pytest.raises(ValueError, match="cfg"):
        train_vae(vae, x, {"n_epochs": 1})
    with pytest.raises(ValueError, match="x"):
        train_vae(vae, x[0], cfg)
