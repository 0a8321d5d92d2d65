"""The Bayesian Poisson HMM: Pyro (pyro.markov + enumeration) == NumPyro (scan + enumeration) ==
the exact forward algorithm plus the log prior, at fixed parameters (float64)."""

import jax.numpy as jnp
import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch

from ppl_models import hmm
from ppl_models.hmm import numpyro_models, pyro_models

F64 = torch.float64
COUNTS = np.array([13, 14, 8, 10, 16, 26, 32, 27, 18, 32, 36, 24, 22, 23, 22, 18, 25, 21, 21, 14], float)
INIT = torch.tensor([0.6, 0.4], dtype=F64)
TRANS = torch.tensor([[0.9, 0.1], [0.2, 0.8]], dtype=F64)
INC = torch.tensor([15.0, 10.0], dtype=F64)


def _exact_log_joint(counts=COUNTS):
    x = torch.tensor(counts, dtype=F64)[:, None]
    log_lik = hmm.poisson_log_lik(x, hmm.PoissonParams(INC.cumsum(-1)[:, None]))
    ll = hmm.hmm_log_likelihood(INIT.log(), TRANS.log(), log_lik)
    prior = (dist.Dirichlet(torch.ones(2, dtype=F64)).log_prob(INIT)
             + dist.Dirichlet(torch.ones(2, 2, dtype=F64) + 5 * torch.eye(2, dtype=F64)).log_prob(TRANS).sum()
             + dist.Gamma(torch.tensor(2.0, dtype=F64), torch.tensor(0.2, dtype=F64)).log_prob(INC).sum())
    return float(ll + prior)


def test_pyro_enumeration_equals_forward_algorithm():
    data = {"init": INIT, "trans": TRANS, "increments": INC}
    cond = pyro.poutine.condition(pyro_models.poisson_hmm, data=data)
    elbo = -pyro.infer.TraceEnum_ELBO(max_plate_nesting=0).loss(cond, lambda *a, **k: None,
                                                                torch.tensor(COUNTS, dtype=F64), 2)
    assert elbo == pytest.approx(_exact_log_joint(), abs=1e-6)


def test_numpyro_enumeration_equals_forward_algorithm():
    import jax

    with jax.enable_x64(True):
        params = {"init": jnp.asarray(INIT.numpy()), "trans": jnp.asarray(TRANS.numpy()),
                  "increments": jnp.asarray(INC.numpy())}
        value = numpyro_models.log_joint(params, COUNTS[:6], 2)  # funsor's eager cost grows fast with T
    assert value == pytest.approx(_exact_log_joint(COUNTS[:6]), abs=1e-6)


def test_prior_samples_and_svi_run():
    pyro.set_rng_seed(0)
    tr = pyro.poutine.trace(pyro_models.poisson_hmm).get_trace(None, 3, n_steps=6)
    assert tr.nodes["rates"]["value"].diff().min() > 0 and tr.nodes["x_5"]["value"].shape == ()
    guide, losses = pyro_models.fit_svi(torch.tensor(COUNTS[:8], dtype=torch.float32), 2, 2)
    assert len(losses) == 2 and np.isfinite(losses).all()
    assert set(guide.median()) == set(pyro_models.GLOBALS)


def test_bad_inputs():
    with pytest.raises(ValueError, match="counts"):
        pyro_models.poisson_hmm(torch.ones(2, 2), 2)
    with pytest.raises(ValueError, match="n_steps"):
        pyro_models.poisson_hmm(None, 2)
    with pytest.raises(ValueError, match="n_states"):
        pyro_models.poisson_hmm_guide(0)
    with pytest.raises(ValueError, match="lr"):
        pyro_models.fit_svi(torch.ones(3), 2, 1, lr=0.0)
    with pytest.raises(ValueError, match="n_states"):
        numpyro_models.poisson_hmm(COUNTS, 0)
    with pytest.raises(ValueError, match="counts"):
        numpyro_models.poisson_hmm(np.ones((2, 2)), 2)
    with pytest.raises(ValueError, match="n_steps"):
        numpyro_models.poisson_hmm(None, 2)
    with pytest.raises(ValueError, match="num_samples"):
        numpyro_models.run_nuts(None, COUNTS, 2, 1, 0)
