"""The mixture as Pyro and NumPyro programs: enumerated ELBO = exact log joint, Pyro = NumPyro =
the EM package's density, infer_discrete = argmax of the responsibilities, relabelling, NUTS."""

import jax
import numpy as np
import pyro
import pytest
import torch
from numpyro.infer.util import log_density
from pyro import poutine
from pyro.infer import TraceEnum_ELBO
from pyro.infer.autoguide import AutoDelta
from pyro.infer.autoguide.initialization import init_to_value

from ppl_models import config
from ppl_models.mixtures import fit_gmm, gmm_log_likelihood, gmm_responsibilities
from ppl_models.mixtures.numpyro_models import mixture_model_1d, relabel, run_nuts
from ppl_models.mixtures.pyro_models import (
    MixturePrior,
    fit_map,
    map_assignments,
    mixture_log_prior,
    mixture_model,
)

PRIOR = MixturePrior(concentration=1.5, loc_scale=4.0, scale_sd=0.8)



def _data(n=120, d=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randint(2, (n,), generator=g)
    centres = torch.tensor([[-2.5] * d, [2.0] * d], dtype=torch.float64)
    return centres[z] + 0.7 * torch.randn(n, d, generator=g, dtype=torch.float64)


def _diag_params(x, k=2):
    p = fit_gmm(x, k, "diag", max_iter=5, seed=1).params
    return p


def _pyro_loss(x, p, prior):
    values = {"weights": p.weights, "locs": p.means, "scales": p.covariances.sqrt()}
    guide = AutoDelta(poutine.block(mixture_model, expose=["weights", "locs", "scales"]),
                      init_loc_fn=init_to_value(values=values))
    pyro.clear_param_store()
    return TraceEnum_ELBO(max_plate_nesting=1).loss(mixture_model, guide, x, p.n_components,
                                                    prior=prior)


def test_enumerated_elbo_with_delta_guide_is_the_exact_log_joint():
    x = _data()
    p = _diag_params(x)
    exact = gmm_log_likelihood(p, x).sum() + mixture_log_prior(p, PRIOR)
    assert abs(_pyro_loss(x, p, PRIOR) + float(exact)) < 1e-8


def test_pyro_equals_numpyro_log_joint_1d():
    x = _data(d=1, seed=3)
    p = _diag_params(x)
    pyro_lj = -_pyro_loss(x, p, PRIOR)
    with jax.enable_x64(True):
        params = {"weights": np.asarray(p.weights), "locs": np.asarray(p.means[:, 0]),
                  "scales": np.asarray(p.covariances[:, 0]) ** 0.5}
        kw = dict(n_components=2, prior=PRIOR)
        lj, _ = log_density(mixture_model_1d, (np.asarray(x[:, 0]),), kw, params)
        # the ordered model has the same density on the ordered region (the K! is dropped)
        order = np.argsort(params["locs"])
        sorted_params = {k: v[order] for k, v in params.items()}
        lj_ord, _ = log_density(mixture_model_1d, (np.asarray(x[:, 0]),), dict(kw, ordered=True),
                                sorted_params)
    assert abs(float(lj) - pyro_lj) < 1e-8
    assert abs(float(lj_ord) - pyro_lj) < 1e-8


def test_infer_discrete_map_is_argmax_of_responsibilities():
    x = _data(seed=4)
    p = _diag_params(x)
    z = map_assignments(x, p, prior=PRIOR)
    assert torch.equal(z, gmm_responsibilities(p, x).argmax(1))
    pyro.set_rng_seed(0)
    zs = map_assignments(x, p, temperature=1)
    assert zs.shape == (120,) and set(zs.tolist()) <= {0, 1}


def test_map_fit_decreases_loss_and_lands_near_em():
    x = _data(n=100, seed=5)
    em = fit_gmm(x, 2, "diag", max_iter=200, tol=1e-10, seed=0).params
    fit = fit_map(x, 2, n_steps=150, lr=0.05, seed=0)
    assert fit.losses[-1] < fit.losses[0]
    order = torch.argsort(fit.params.means[:, 0])
    em_order = torch.argsort(em.means[:, 0])
    torch.testing.assert_close(fit.params.means[order], em.means[em_order], rtol=0, atol=0.1)


def test_prior_sampling_shapes_and_bad_input():
    pyro.set_rng_seed(0)
    assert mixture_model(None, 3, n=7, dim=2).shape == (7, 2)
    with pytest.raises(ValueError, match="n and dim"):
        mixture_model(None, 3)
    x = _data(seed=6)
    p = _diag_params(x)
    full = fit_gmm(x, 2, "full", max_iter=2).params
    with pytest.raises(ValueError, match="params"):
        mixture_log_prior(full)
    with pytest.raises(ValueError, match="params"):
        map_assignments(x, full)
    with pytest.raises(ValueError, match="temperature"):
        map_assignments(x, p, temperature=2)
    for kwargs, match in [(dict(n_components=0), "n_components"),
                          (dict(n_components=2, n_steps=0), "n_steps"),
                          (dict(n_components=2, lr=0.0), "lr"),
                          (dict(n_components=2, init=full), "params")]:
        with pytest.raises(ValueError, match=match):
            fit_map(x, **kwargs)
    with pytest.raises(ValueError, match="x"):
        fit_map(x[:, 0], 2)
    with pytest.raises(ValueError, match="n is needed"):
        mixture_model_1d(None, 2)


def test_relabel_sorts_every_draw_consistently():
    rng = np.random.default_rng(0)
    locs = np.array([-1.0, 0.5, 2.0])
    weights = np.array([0.2, 0.3, 0.5])
    perms = np.array([rng.permutation(3) for _ in range(12)]).reshape(2, 6, 3)
    s = {"locs": locs[perms], "weights": weights[perms], "other": np.ones((2, 6))}
    out = relabel(s)
    assert np.array_equal(out["locs"], np.broadcast_to(locs, (2, 6, 3)))
    assert np.array_equal(out["weights"], np.broadcast_to(weights, (2, 6, 3)))
    assert np.array_equal(out["other"], s["other"])
    with pytest.raises(ValueError, match="by"):
        relabel(s, by="means")
    with pytest.raises(ValueError, match="sites"):
        relabel(s, sites=("locs", "other"))


def test_nuts_ordered_chains_and_bad_input():
    noise = 0.3 * np.random.default_rng(1).standard_normal(60)
    x = np.concatenate([np.full(30, -2.0), np.full(30, 2.0)]) + noise
    mcmc = run_nuts(x, 2, config.jax_key(0), num_warmup=30, num_samples=20, ordered=True)
    locs = np.asarray(mcmc.get_samples(group_by_chain=True)["locs"])
    assert locs.shape == (2, 20, 2) and (np.diff(locs, axis=-1) > 0).all()
    assert abs(np.median(locs[..., 0]) + 2.0) < 0.5 and abs(np.median(locs[..., 1]) - 2.0) < 0.5
    with pytest.raises(ValueError, match="x"):
        run_nuts(x.reshape(2, -1), 2, config.jax_key(0))
    with pytest.raises(ValueError, match="num_samples"):
        run_nuts(x, 2, config.jax_key(0), num_samples=0)
    with pytest.raises(ValueError, match="init_values"):
        run_nuts(x, 2, config.jax_key(0), init_values=[{}])
