import numpy as np
import pytest
import torch
from scipy import stats

from ppl_models import config
from ppl_models import hierarchical as H

D = H.load_eight_schools()


@pytest.fixture(scope="module")
def exact():
    return H.exact_posterior(D.se, D.effect)


def test_data_file():
    assert D.school == tuple("ABCDEFGH")
    assert D.effect.tolist() == [28, 8, -3, 7, -1, 1, 18, 12]
    assert D.se.tolist() == [15, 10, 16, 11, 9, 11, 10, 18]


def test_exact_posterior_against_brute_force_2d_grid(exact):
    """Reference for the reference: integrate mu and tau on a dense 2-D grid (no algebra)."""
    mu = np.linspace(-40, 50, 1801)
    tau = np.exp(np.linspace(np.log(1e-4), np.log(1e4), 3000))  # the same domain
    m, t = mu[:, None, None], tau[None, :, None]
    lj = (stats.norm.logpdf(m[..., 0], 0, 5) + stats.halfcauchy.logpdf(t[..., 0], scale=5)
          + stats.norm.logpdf(D.effect, m, np.sqrt(D.se**2 + t**2)).sum(-1) + np.log(t[..., 0]))
    c = lj.max()
    w = np.exp(lj - c)  # density w.r.t. (mu, log tau)
    integ = lambda f: np.trapezoid(np.trapezoid(w * f, np.log(tau), axis=1), mu)
    z = integ(1.0)
    assert abs(integ(mu[:, None]) / z - exact.mu_mean) < 1e-4
    assert abs(integ(tau[None, :]) / z - exact.tau_mean) < 1e-3
    assert abs(np.log(z) + c - exact.log_evidence) < 1e-4
    assert abs(np.trapezoid(exact.tau_density, exact.tau_grid) - 1) < 1e-4


def test_flat_prior_against_brute_force_2d_grid():
    """BDA3 section 5.5's uniform prior p(mu, tau) = 1, integrated on a dense (mu, tau) grid."""
    flat = H.exact_posterior(D.se, D.effect, H.FlatPrior())
    mu = np.linspace(-60, 80, 2801)
    tau = np.exp(np.linspace(np.log(1e-4), np.log(1e4), 3000))
    m, t = mu[:, None, None], tau[None, :, None]
    lj = stats.norm.logpdf(D.effect, m, np.sqrt(D.se**2 + t**2)).sum(-1) + np.log(t[..., 0])
    w = np.exp(lj - lj.max())
    integ = lambda f: np.trapezoid(np.trapezoid(w * f, np.log(tau), axis=1), mu)
    z = integ(1.0)
    assert abs(integ(mu[:, None]) / z - flat.mu_mean) < 1e-4
    assert abs(integ(tau[None, :]) / z - flat.tau_mean) < 1e-3
    assert np.isnan(flat.log_evidence)  # an improper prior has no evidence
    assert flat.mu_mean == pytest.approx(7.93, abs=0.01) and flat.tau_mean == pytest.approx(6.58, abs=0.01)


def test_flat_prior_is_the_limit_of_ever_wider_priors():
    flat = H.exact_posterior(D.se, D.effect, H.FlatPrior())
    wide = H.exact_posterior(D.se, D.effect, H.Prior(mu_scale=1e5, tau_scale=1e7))
    for a, b in ((flat.mu_mean, wide.mu_mean), (flat.mu_sd, wide.mu_sd), (flat.tau_mean, wide.tau_mean)):
        assert a == pytest.approx(b, rel=1e-6)
    np.testing.assert_allclose(flat.theta_mean, wide.theta_mean, rtol=1e-6)
    np.testing.assert_allclose(flat.tau_density, wide.tau_density, rtol=1e-5, atol=1e-10)


def test_exact_posterior_known_values(exact):
    assert exact.mu_mean == pytest.approx(4.397, abs=2e-3)
    assert exact.tau_mean == pytest.approx(3.598, abs=2e-3)
    assert np.all(exact.theta_mean < D.effect.max()) and np.all(exact.theta_sd > 0)
    # shrinkage: every school's posterior mean lies between its own estimate and mu's mean
    lo, hi = np.minimum(D.effect, exact.mu_mean), np.maximum(D.effect, exact.mu_mean)
    assert np.all((exact.theta_mean >= lo - 1e-9) & (exact.theta_mean <= hi + 1e-9))


def test_log_joint_same_in_pyro_and_numpyro():
    rng = np.random.default_rng(0)
    for centered in (False, True):
        for _ in range(3):
            latent = "theta" if centered else "eta"
            p = {"mu": rng.normal(), "tau": abs(rng.normal()) + 0.1, latent: rng.normal(size=8)}
            a = H.pyro_log_joint(p, D.se, D.effect, centered=centered)
            b = H.numpyro_log_joint(p, D.se, D.effect, centered=centered)
            assert a == pytest.approx(b, rel=1e-5)
    p = {"mu": 1.0, "tau": 2.0, "eta": np.zeros(8)}
    hn = H.Prior(tau_family="half_normal")
    assert H.pyro_log_joint(p, D.se, D.effect, hn) == pytest.approx(
        H.numpyro_log_joint(p, D.se, D.effect, hn), rel=1e-5)
    # and both equal the log density written out by hand
    by_hand = (stats.norm.logpdf(1.0, 0, 5) + stats.halfcauchy.logpdf(2.0, scale=5)
               + stats.norm.logpdf(np.zeros(8)).sum() + stats.norm.logpdf(D.effect, 1.0, D.se).sum())
    assert H.pyro_log_joint(p, D.se, D.effect) == pytest.approx(by_hand, rel=1e-10)


def test_numpyro_nuts_matches_exact(exact):
    run = H.run_numpyro_nuts(config.jax_key(0), D.se, D.effect, 400, 600, num_chains=2)
    s = run.result.get_samples()
    assert s["mu"].shape == (1200,)
    assert abs(float(s["mu"].mean()) - exact.mu_mean) < 0.6  # ~4 MC standard errors
    assert abs(float(s["tau"].mean()) - exact.tau_mean) < 0.8
    assert np.abs(np.asarray(s["theta"].mean(0)) - exact.theta_mean).max() < 1.0


def test_compiled_numpyro_nuts_reuses_one_program(exact):
    import jax

    compiled = H.compile_numpyro_nuts(config.jax_key(0), D.se, D.effect, 300, 1000)
    assert compiled.compile_seconds > 0
    draws, seconds = compiled.run(config.jax_key(1))
    assert draws["mu"].shape == (1000,) and draws["theta"].shape == (1000, 8) and seconds > 0
    assert abs(float(draws["mu"].mean()) - exact.mu_mean) < 0.9  # ~4 MC standard errors
    assert abs(float(draws["tau"].mean()) - exact.tau_mean) < 1.0
    again, _ = compiled.run(config.jax_key(1))
    other, _ = compiled.run(config.jax_key(2))
    assert np.array_equal(again["mu"], draws["mu"]) and not np.array_equal(other["mu"], draws["mu"])
    compiles = []
    with jax.log_compiles(True):
        import logging

        handler = logging.Handler()
        handler.emit = lambda rec: compiles.append(rec.getMessage())
        logging.getLogger("jax").addHandler(handler)
        try:
            compiled.run(config.jax_key(3))
        finally:
            logging.getLogger("jax").removeHandler(handler)
    assert not any("scan" in m or "chain" in m for m in compiles)  # the chain is not recompiled


def test_pyro_nuts_runs_and_is_near_exact(exact):
    run = H.run_pyro_nuts(D.se, D.effect, 60, 100, seed=1)
    s = run.result.get_samples()
    theta = s["mu"][:, None] + s["tau"][:, None] * s["eta"]  # deterministic sites are not stored
    assert s["mu"].shape == (100,) and theta.shape == (100, 8)
    assert abs(float(s["mu"].mean()) - exact.mu_mean) < 2.0


def test_pyro_nuts_with_jit_compile_runs():
    run = H.run_pyro_nuts(D.se, D.effect, 30, 60, seed=1, jit_compile=True)
    s = run.result.get_samples()
    assert s["mu"].shape == (60,) and torch.isfinite(s["tau"]).all() and (s["tau"] > 0).all()


def test_svi_elbo_is_below_the_exact_evidence(exact):
    run = H.fit_pyro_svi(D.se, D.effect, 300, lr=0.05, seed=0)
    elbo = -run.losses[-100:].mean()
    assert elbo < exact.log_evidence  # Jensen: ELBO <= log p(y)
    assert run.losses[:10].mean() - run.losses[-100:].mean() > 1.0  # it did learn
    assert exact.log_evidence - elbo < 3.0  # and the guide is not far off
    run2 = H.fit_numpyro_svi(config.jax_key(0), D.se, D.effect, 300, lr=0.05)
    assert -run2.losses[-100:].mean() < exact.log_evidence


def test_prior_predictive_same_in_both_frameworks():
    import numpyro
    import pyro

    pyro.set_rng_seed(0)
    s = torch.tensor(D.se, dtype=torch.float32)
    yp = pyro.infer.Predictive(H.pyro_model, num_samples=4000, parallel=True)(s)["y"].numpy()
    yn = np.asarray(numpyro.infer.Predictive(H.numpyro_model, num_samples=4000)(
        config.jax_key(0), D.se)["y"])
    assert yp.shape == yn.shape == (4000, 8)
    q = [0.25, 0.5, 0.75]
    assert np.allclose(np.quantile(yp, q, axis=0), np.quantile(yn, q, axis=0), atol=2.5)


def test_bad_input():
    with pytest.raises(ValueError, match="sigma"):
        H.exact_posterior([1.0, -1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="sigma"):
        H.exact_posterior(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="y has shape"):
        H.exact_posterior(D.se, D.effect[:3])
    with pytest.raises(ValueError, match="y contains NaN"):
        H.exact_posterior(D.se, np.full(8, np.nan))
    with pytest.raises(ValueError, match="prior"):
        H.exact_posterior(D.se, D.effect, prior="flat")
    with pytest.raises(ValueError, match="num_warmup"):
        H.compile_numpyro_nuts(config.jax_key(0), D.se, D.effect, 0, 10)
    with pytest.raises(ValueError, match="n_grid"):
        H.exact_posterior(D.se, D.effect, n_grid=10)
    with pytest.raises(ValueError, match="tau_family"):
        H.Prior(tau_family="uniform")
    with pytest.raises(ValueError, match="tau_scale"):
        H.Prior(tau_scale=0.0)
    with pytest.raises(ValueError, match="num_samples"):
        H.run_numpyro_nuts(config.jax_key(0), D.se, D.effect, 10, 0)
    with pytest.raises(ValueError, match="num_warmup"):
        H.run_pyro_nuts(D.se, D.effect, -1, 10)
    with pytest.raises(ValueError, match="num_steps"):
        H.fit_pyro_svi(D.se, D.effect, 0)
    with pytest.raises(ValueError, match="sigma"):
        H.pyro_log_joint({"mu": 0.0}, [0.0], [1.0])
