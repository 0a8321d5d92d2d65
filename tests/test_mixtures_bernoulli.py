"""Bernoulli mixtures: density against brute-force enumeration, EM against a numpy reference."""

import itertools
import math

import numpy as np
import pytest
import torch

from ppl_models.mixtures import (
    BMMConfig,
    BMMParams,
    bmm_component_log_prob,
    bmm_log_likelihood,
    bmm_m_step,
    bmm_n_parameters,
    bmm_responsibilities,
    bmm_sample,
    check_bmm_params,
    fit_bmm,
)


def _params(k=3, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(k, generator=g, dtype=torch.float64) + 0.1
    return BMMParams(w / w.sum(), torch.rand(k, d, generator=g, dtype=torch.float64) * 0.9 + 0.05)


def _all_binary(d):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=d)), dtype=torch.float64)


def test_log_likelihood_matches_a_loop_and_sums_to_one():
    p = _params()
    x = _all_binary(4)
    ll = bmm_log_likelihood(x, p)
    brute = []
    for row in x:
        comp = [p.weights[k] * math.prod(float(p.probs[k, d]) if row[d] else 1 - float(p.probs[k, d])
                                         for d in range(4)) for k in range(3)]
        brute.append(math.log(sum(float(c) for c in comp)))
    assert torch.allclose(ll, torch.tensor(brute, dtype=torch.float64), atol=1e-12)
    assert abs(float(ll.exp().sum()) - 1.0) < 1e-12


def test_responsibilities_are_bayes_rule():
    p = _params()
    x = _all_binary(4)
    joint = bmm_component_log_prob(x, p).exp() * p.weights
    assert torch.allclose(bmm_responsibilities(x, p), joint / joint.sum(1, keepdim=True), atol=1e-12)


def test_m_step_matches_numpy_closed_form():
    g = np.random.default_rng(1)
    x = (g.random((50, 6)) < 0.4).astype(float)
    r = g.random((50, 3))
    r /= r.sum(1, keepdims=True)
    p = bmm_m_step(torch.tensor(x), torch.tensor(r), pseudo_count=0.5)
    assert np.allclose(p.weights.numpy(), r.mean(0), atol=1e-12)
    assert np.allclose(p.probs.numpy(), (r.T @ x + 0.5) / (r.sum(0)[:, None] + 1.0), atol=1e-12)


def test_em_objective_never_decreases_and_recovers_two_clusters():
    g = torch.Generator().manual_seed(0)
    truth = torch.tensor([[0.9] * 10 + [0.1] * 10, [0.1] * 10 + [0.9] * 10], dtype=torch.float64)
    z = torch.randint(2, (400,), generator=g)
    x = (torch.rand(400, 20, generator=g, dtype=torch.float64) < truth[z]).double()
    fit = fit_bmm(x, BMMConfig(n_components=2, n_iter=100, tol=0.0))
    assert all(b >= a - 1e-10 for a, b in zip(fit.objective[:-1], fit.objective[1:], strict=True))
    est = fit.params.probs[fit.params.probs[:, 0].argsort(descending=True)]
    assert torch.allclose(est, truth, atol=0.08)


def test_samples_follow_the_model():
    p = _params(k=2, d=3, seed=2)
    x, k = bmm_sample(p, 40_000, torch.Generator().manual_seed(0))
    assert x.shape == (40_000, 3) and k.shape == (40_000,)
    freq = torch.stack([(x == row).all(1).double().mean() for row in _all_binary(3)])
    assert torch.allclose(freq, bmm_log_likelihood(_all_binary(3), p).exp(), atol=0.01)


def test_n_parameters():
    assert bmm_n_parameters(50, 784) == 49 + 50 * 784


def test_smoke_config_is_small():
    assert BMMConfig().smoke().n_components <= 10


@pytest.mark.parametrize("bad, match", [
    (BMMParams(torch.tensor([0.5, 0.6]), torch.full((2, 3), 0.5)), "weights"),
    (BMMParams(torch.tensor([0.5, 0.5]), torch.full((2, 3), 1.0)), "probs"),
    (BMMParams(torch.tensor([1.0]), torch.full((2, 3), 0.5)), "weights"),
    ((torch.ones(1),), "BMMParams"),
])
def test_bad_params(bad, match):
    with pytest.raises(ValueError, match=match):
        check_bmm_params(bad)


def test_bad_inputs():
    p = _params()
    with pytest.raises(ValueError, match="x"):
        bmm_log_likelihood(torch.full((2, 4), 0.5, dtype=torch.float64), p)     # not binary
    with pytest.raises(ValueError, match="x"):
        bmm_log_likelihood(torch.zeros(2, 5, dtype=torch.float64), p)           # wrong dimension
    with pytest.raises(ValueError, match="x"):
        bmm_log_likelihood(torch.tensor([[float("nan")] * 4]), p)
    with pytest.raises(ValueError, match="resp"):
        bmm_m_step(torch.zeros(3, 4), torch.full((3, 2), 0.7))
    with pytest.raises(ValueError, match="resp"):
        bmm_m_step(torch.zeros(3, 4), torch.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="pseudo_count"):
        bmm_m_step(torch.zeros(3, 4), torch.full((3, 2), 0.5), pseudo_count=0.0)
    with pytest.raises(ValueError, match="n_components"):
        BMMConfig(n_components=0)
    with pytest.raises(ValueError, match="pseudo_count"):
        BMMConfig(pseudo_count=-1.0)
    with pytest.raises(ValueError, match="n_components"):
        fit_bmm(torch.zeros(3, 4), BMMConfig(n_components=5))
    with pytest.raises(ValueError, match="cfg"):
        fit_bmm(torch.zeros(3, 4), {"n_components": 2})
    with pytest.raises(ValueError, match="generator"):
        bmm_sample(p, 3, None)
    with pytest.raises(ValueError, match="n"):
        bmm_sample(p, 0, torch.Generator())
