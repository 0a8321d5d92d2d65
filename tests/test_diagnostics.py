import numpy as np
import pytest
import torch

from ppl_models import config, diagnostics


@pytest.fixture(scope="module")
def numpyro_mcmc():
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    def model(y=None):
        mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)

    mcmc = MCMC(NUTS(model), num_warmup=150, num_samples=150, num_chains=2, progress_bar=False)
    mcmc.run(config.jax_key(0), y=np.ones(10))
    return mcmc


@pytest.fixture(scope="module")
def pyro_mcmc():
    import pyro
    import pyro.distributions as dist
    from pyro.infer import MCMC, NUTS

    def model(y):
        mu = pyro.sample("mu", dist.Normal(0.0, 5.0))
        with pyro.plate("n", len(y)):
            pyro.sample("y", dist.Normal(mu, 1.0), obs=y)

    pyro.set_rng_seed(0)
    mcmc = MCMC(NUTS(model), num_samples=60, warmup_steps=60, num_chains=1, disable_progbar=True)
    mcmc.run(torch.ones(10))
    return mcmc


def test_numpyro_to_summary(numpyro_mcmc):
    idata = diagnostics.to_inference_data(numpyro_mcmc)
    table = diagnostics.summary(idata)
    assert list(table.index) == ["mu"]
    assert {"mean", "sd", "ess_bulk", "r_hat"} <= set(table.columns)
    # conjugate posterior: mean 10/(10 + 1/25), sd 1/sqrt(10.04)
    assert abs(table.loc["mu", "mean"] - 10 / 10.04) < 0.1
    assert table.loc["mu", "r_hat"] < 1.05
    assert diagnostics.divergences(numpyro_mcmc).shape == (2,)
    assert table.equals(diagnostics.summary(numpyro_mcmc))


def test_split_rhat_matches_arviz_on_good_chains(numpyro_mcmc):
    draws = numpyro_mcmc.get_samples(group_by_chain=True)["mu"]
    ours = diagnostics.split_rhat(np.asarray(draws))
    theirs = diagnostics.summary(numpyro_mcmc, round_to=6).loc["mu", "r_hat"]
    assert abs(ours - theirs) < 0.02


def test_split_rhat_flags_disagreeing_chains():
    rng = np.random.default_rng(0)
    good = rng.normal(size=(4, 500))
    bad = good + np.arange(4)[:, None]
    assert diagnostics.split_rhat(good) < 1.01 < 1.5 < diagnostics.split_rhat(bad)
    with pytest.raises(ValueError, match="draws"):
        diagnostics.split_rhat(np.ones(10))
    with pytest.raises(ValueError, match="NaN"):
        diagnostics.split_rhat(np.full((2, 10), np.nan))


def test_pyro_mcmc_supported(pyro_mcmc):
    idata = diagnostics.to_inference_data(pyro_mcmc, extra_posterior={"mu2": np.ones((1, 60))})
    assert set(idata.posterior.data_vars) == {"mu", "mu2"}
    assert diagnostics.divergences(pyro_mcmc).shape == (1,)
    axes = diagnostics.plot_trace(idata, var_names=["mu"])
    assert np.asarray(axes).size == 2


def test_bad_input(numpyro_mcmc):
    with pytest.raises(ValueError, match="mcmc"):
        diagnostics.to_inference_data({"mu": 1})
    with pytest.raises(ValueError, match="mcmc"):
        diagnostics.divergences([1, 2])
    with pytest.raises(ValueError, match="extra_posterior"):
        diagnostics.to_inference_data(numpyro_mcmc, extra_posterior={"z": np.ones((3, 3))})
    with pytest.raises(ValueError, match="var_names"):
        diagnostics.summary(numpyro_mcmc, var_names="mu")
