"""Bad input to every public ppl_models.hmm function raises ValueError naming the argument."""

import pytest
import torch

from ppl_models import hmm
from ppl_models.hmm import parallel

F64 = torch.float64
K = 2
LI = torch.log(torch.tensor([0.4, 0.6], dtype=F64))
LT = torch.log(torch.tensor([[0.9, 0.1], [0.2, 0.8]], dtype=F64))
LL = torch.zeros(3, 5, K, dtype=F64)
INFER = [getattr(m, f) for m in (hmm, parallel)
         for f in ("hmm_log_likelihood", "hmm_filter", "hmm_smoother", "hmm_viterbi", "hmm_sample_posterior")]


def _log(p):
    return torch.log(torch.tensor(p, dtype=F64))


BAD = [
    ("log_init", dict(log_init=_log([0.5, 0.6]))),  # does not sum to one
    ("log_init", dict(log_init=torch.tensor([float("nan"), 0.0], dtype=F64))),
    ("log_init", dict(log_init=[0.0, 0.0])),
    ("log_trans", dict(log_trans=_log([[0.9, 0.2], [0.2, 0.8]]))),  # row 0 sums to 1.1
    ("log_trans", dict(log_trans=torch.log(torch.tensor([[1.1, -0.1], [0.5, 0.5]], dtype=F64)))),  # negative
    ("log_trans", dict(log_trans=_log([[1 / 3] * 3] * 3))),  # K mismatch
    ("log_lik", dict(log_lik=torch.zeros(3, 5, 3, dtype=F64))),  # K mismatch
    ("log_lik", dict(log_lik=torch.zeros(3, 0, K, dtype=F64))),  # zero-length
    ("log_lik", dict(log_lik=torch.full((5, K), float("nan"), dtype=F64))),
    ("log_lik", dict(log_lik=torch.zeros(5, K, dtype=torch.int64))),
    ("log_lik", dict(log_lik=torch.zeros(K, dtype=F64))),
    ("lengths", dict(lengths=torch.tensor([5, 0, 3]))),  # zero-length sequence
    ("lengths", dict(lengths=torch.tensor([5, 6, 3]))),  # longer than T
    ("lengths", dict(lengths=torch.tensor([5, 3]))),  # batch mismatch
    ("lengths", dict(lengths=torch.tensor([5.0, 3.0, 2.0]))),
]


@pytest.mark.parametrize("fn", INFER, ids=lambda f: f"{f.__module__.split('.')[-1]}.{f.__name__}")
@pytest.mark.parametrize("name,kwargs", BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_inference_bad_inputs(fn, name, kwargs):
    args = dict(log_init=LI, log_trans=LT, log_lik=LL, lengths=None) | kwargs
    with pytest.raises(ValueError, match=name):
        fn(**args)


@pytest.mark.parametrize("mod", [hmm, parallel])
def test_sampling_bad_inputs(mod):
    with pytest.raises(ValueError, match="num_samples"):
        mod.hmm_sample_posterior(LI, LT, LL, num_samples=0)
    with pytest.raises(ValueError, match="generator"):
        mod.hmm_sample_posterior(LI, LT, LL, 2, generator=0)


def test_associative_scan_bad_inputs():
    with pytest.raises(ValueError, match="elems"):
        parallel.associative_scan(lambda a, b: a, ())
    with pytest.raises(ValueError, match="elems"):
        parallel.associative_scan(lambda a, b: a, (torch.zeros(3), torch.zeros(4)))


X_CAT = torch.tensor([[0, 1, 2, 1]])


def _cat(probs):
    return hmm.categorical_log_lik(X_CAT, hmm.CategoricalParams(probs))


X_VEC = torch.randn(1, 4, 2, dtype=F64)
X_CNT = torch.tensor([[[1.0], [0.0], [3.0], [2.0]]], dtype=F64)
W = torch.full((1, 4, K), 0.5, dtype=F64)

EMISSION_BAD = [
    ("probs", lambda: _cat(torch.tensor([[0.5, 0.6, -0.1]] * K))),
    ("probs", lambda: _cat(torch.tensor([[0.5, 0.6, 0.1]] * K))),
    ("x", lambda: hmm.categorical_log_lik(X_CAT + 5, hmm.CategoricalParams(torch.full((K, 3), 1 / 3)))),
    ("x", lambda: hmm.categorical_m_step(X_CAT.double(), W)),
    ("weights", lambda: hmm.categorical_m_step(X_CAT, -W)),
    ("weights", lambda: hmm.categorical_m_step(X_CAT, W[:, :3])),
    ("variances", lambda: hmm.gaussian_diag_log_lik(X_VEC, hmm.GaussianDiagParams(
        torch.zeros(K, 2, dtype=F64), -torch.ones(K, 2, dtype=F64)))),
    ("means", lambda: hmm.gaussian_diag_log_lik(X_VEC, hmm.GaussianDiagParams(
        torch.zeros(K, 3, dtype=F64), torch.ones(K, 3, dtype=F64)))),
    ("x", lambda: hmm.gaussian_diag_m_step(X_VEC * float("nan"), W)),
    ("reg_covar", lambda: hmm.gaussian_diag_m_step(X_VEC, W, reg_covar=-1.0)),
    ("reg_covar", lambda: hmm.gaussian_full_m_step(X_VEC, W, reg_covar=-1.0)),
    ("covariances", lambda: hmm.gaussian_full_log_lik(X_VEC, hmm.GaussianFullParams(
        torch.zeros(K, 2, dtype=F64), -torch.eye(2, dtype=F64).expand(K, 2, 2)))),
    ("covariances", lambda: hmm.gaussian_full_log_lik(X_VEC, hmm.GaussianFullParams(
        torch.zeros(K, 2, dtype=F64), torch.eye(3, dtype=F64).expand(K, 3, 3)))),
    ("weights", lambda: hmm.gaussian_full_m_step(X_VEC, W[..., :1, :])),
    ("rates", lambda: hmm.poisson_log_lik(X_CNT, hmm.PoissonParams(torch.tensor([[0.0], [1.0]], dtype=F64)))),
    ("x", lambda: hmm.poisson_log_lik(-X_CNT, hmm.PoissonParams(torch.ones(K, 1, dtype=F64)))),
    ("x", lambda: hmm.poisson_m_step(X_CNT + 0.5, W)),
    ("reg_covar", lambda: hmm.gaussian_diag_emission(-1.0)),
    ("reg_covar", lambda: hmm.gaussian_full_emission(-1.0)),
]


@pytest.mark.parametrize("name,call", EMISSION_BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(EMISSION_BAD)])
def test_emission_bad_inputs(name, call):
    with pytest.raises(ValueError, match=name):
        call()


PARAMS = hmm.HMMParams(LI.exp(), LT.exp(), hmm.PoissonParams(torch.tensor([[1.0], [5.0]], dtype=F64)))
EM = hmm.poisson_emission()

LEARN_BAD = [
    ("n_states", lambda: hmm.fit_hmm(X_CNT, 0, EM)),
    ("n_iter", lambda: hmm.fit_hmm(X_CNT, K, EM, n_iter=0)),
    ("n_restarts", lambda: hmm.fit_hmm(X_CNT, K, EM, n_restarts=0)),
    ("n_restarts", lambda: hmm.fit_hmm(X_CNT, K, EM, init=PARAMS, n_restarts=2)),
    ("emission", lambda: hmm.fit_hmm(X_CNT, K, "poisson")),
    ("tol", lambda: hmm.fit_hmm(X_CNT, K, EM, tol=float("nan"))),
    ("x", lambda: hmm.fit_hmm(X_CNT.numpy(), K, EM)),
    ("n_states", lambda: hmm.fit_hmm(X_CNT, 3, EM, init=PARAMS, n_restarts=1)),
    ("initial_probs", lambda: hmm.em_step(X_CNT, PARAMS._replace(initial_probs=torch.tensor([0.5, 0.6])),
                                          EM)),
    ("transition_matrix", lambda: hmm.em_step(X_CNT, PARAMS._replace(
        transition_matrix=torch.tensor([[1.2, -0.2], [0.5, 0.5]], dtype=F64)), EM)),
    ("transition_matrix", lambda: hmm.hmm_log_lik_terms(X_CNT, PARAMS._replace(
        transition_matrix=torch.full((3, 3), 1 / 3, dtype=F64)), EM)),
    ("params", lambda: hmm.hmm_log_lik_terms(X_CNT, (1, 2, 3), EM)),
    ("n_steps", lambda: hmm.sample_hmm(PARAMS, EM, 0)),
    ("batch_shape", lambda: hmm.sample_hmm(PARAMS, EM, 3, batch_shape=(0,))),
    ("generator", lambda: hmm.sample_hmm(PARAMS, EM, 3, generator=1)),
    ("n_observations", lambda: hmm.bic(-10.0, PARAMS, EM, 0)),
    ("log_likelihood", lambda: hmm.bic(float("nan"), PARAMS, EM, 10)),
    ("n_states", lambda: hmm.fit_hmm(X_CNT[:, :1], 3, EM)),
]


@pytest.mark.parametrize("name,call", LEARN_BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(LEARN_BAD)])
def test_learning_bad_inputs(name, call):
    with pytest.raises(ValueError, match=name):
        call()
