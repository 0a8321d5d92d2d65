"""The CPU fast paths of ppl_models.hmm.inference agree with the generic torch loops (Viterbi exactly)."""

import pytest
import torch

from ppl_models.hmm import fast_cpu, fast_numba, inference
from ppl_models.hmm.validate import check_inputs


def _model(k, batch, t, seed, dtype=torch.float64, zero_trans=False):
    g = torch.Generator().manual_seed(seed)
    log_init = torch.log_softmax(torch.randn(k, generator=g, dtype=dtype), -1)
    logits = torch.randn(k, k, generator=g, dtype=dtype)
    if zero_trans:  # forbidden transitions (-inf) and ties between equal rows
        logits[:, 0].fill_(-float("inf"))
        logits[0, 0] = 0.0
    log_trans = torch.log_softmax(logits, -1)
    log_lik = torch.randn(*batch, t, k, generator=g, dtype=dtype)
    return log_init, log_trans, log_lik


@pytest.mark.parametrize("k,batch,t,dtype,zero", [
    (1, (3,), 5, torch.float64, False), (2, (), 1, torch.float64, False), (2, (7,), 40, torch.float64, False),
    (5, (2, 3), 30, torch.float32, False), (50, (4,), 25, torch.float64, False),
    (80, (4,), 12, torch.float64, False), (60, (8,), 9, torch.float32, False),  # n K^2 > 2,000: torch add
    (4, (6,), 20, torch.float64, True), (3, (5,), 30, torch.float64, True),
    (2, (6,), 25, torch.float64, True),
    (2, (50,), 100, torch.float32, False), (10, (50,), 100, torch.float64, False),
    (10, (9,), 30, torch.float64, True)])  # K <= 4: all back-pointers at once; K = 2: binary maxima
@pytest.mark.parametrize("with_lengths", [False, True])
def test_viterbi_cpu_equals_torch_loop_exactly(k, batch, t, dtype, zero, with_lengths):
    li, lt, ll = _model(k, batch, t, seed=k + t, dtype=dtype, zero_trans=zero)
    lengths = None
    if with_lengths and batch:
        lengths = torch.randint(1, t + 1, batch, generator=torch.Generator().manual_seed(t))
    fast = inference.hmm_viterbi(li, lt, ll, lengths)
    c = check_inputs(li, lt, ll, lengths)
    ref = inference._viterbi_torch(c.log_init, c.log_trans, c.log_lik, c.mask)
    assert fast.path.dtype == ref.path.dtype == torch.int64
    assert fast.log_prob.dtype == ref.log_prob.dtype == dtype
    assert torch.equal(fast.path, ref.path)
    assert torch.equal(fast.log_prob, ref.log_prob)
    # both CPU implementations (the one hmm_viterbi did not pick included), padding marked as hmm_viterbi does
    impls = [fast_cpu.viterbi_cpu] + ([fast_numba.viterbi_numba] if fast_numba.AVAILABLE else [])
    for impl in impls:
        path, log_prob = impl(c.log_init, c.log_trans, c.log_lik, c.mask)
        assert torch.equal(inference._finish_path(path, c.mask), ref.path), impl.__name__
        assert torch.equal(log_prob, ref.log_prob), impl.__name__


@pytest.mark.parametrize("k", [2, 3, 6])
def test_viterbi_ties_go_to_lowest_state(k):
    li = torch.full((k,), -torch.log(torch.tensor(float(k), dtype=torch.float64)))
    lt = torch.full((k, k), li[0].item(), dtype=torch.float64)
    ll = torch.zeros(2, 6, k, dtype=torch.float64)  # every path equally likely
    fast = inference.hmm_viterbi(li, lt, ll)
    assert (fast.path == 0).all()
    c = check_inputs(li, lt, ll)
    assert torch.equal(fast.path, inference._viterbi_torch(*c).path)


@pytest.mark.parametrize("k,batch,t,dtype", [
    (1, (3,), 5, torch.float64), (2, (), 1, torch.float64), (2, (7,), 60, torch.float64),
    (5, (2, 3), 30, torch.float32), (50, (4,), 25, torch.float64)])
def test_smoother_cpu_equals_log_space_loop(k, batch, t, dtype):
    li, lt, ll = _model(k, batch, t, seed=3 * k + t, dtype=dtype)
    ll = 8.0 * ll  # peaked emissions: scales far from one
    fast = inference.hmm_smoother(li, lt, ll)
    ref = inference._smoother_torch(*check_inputs(li, lt, ll))
    tol = 1e-10 if dtype == torch.float64 else 2e-4
    for name, a, b in zip(ref._fields, fast, ref, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape, name
        torch.testing.assert_close(a, b, rtol=tol, atol=tol, msg=name)


def test_smoother_cpu_underflow_falls_back_to_log_space():
    # state 1 is reachable only from itself, and state 0's emission at t = 2 is exp(-2000) = 0.0:
    # the probability-space scales vanish, the log-space recursion still works.
    li = torch.log(torch.tensor([1.0, 0.0], dtype=torch.float64))
    lt = torch.log(torch.tensor([[1.0, 0.0], [0.5, 0.5]], dtype=torch.float64))
    ll = torch.tensor([[[0.0, 0.0], [-2000.0, 0.0], [0.0, -1.0]]], dtype=torch.float64)
    from ppl_models.hmm.fast_cpu import smoother_cpu

    assert smoother_cpu(*check_inputs(li, lt, ll)[:3]) is None
    post = inference.hmm_smoother(li, lt, ll)
    assert torch.isfinite(post.marginal_loglik).all()
    assert abs(post.marginal_loglik.item() + 2000.0) < 1e-9
    ref = inference._smoother_torch(*check_inputs(li, lt, ll))
    for a, b in zip(post, ref, strict=True):  # the log-space path itself, whatever it returns
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


def test_hmm_viterbi_uses_the_compiled_path_when_numba_is_installed(monkeypatch):
    li, lt, ll = _model(3, (4,), 10, seed=0)
    calls = []

    def spy(*args):
        calls.append(1)
        return fast_cpu.viterbi_cpu(*args)

    monkeypatch.setattr(fast_numba, "viterbi_numba", spy)
    inference.hmm_viterbi(li, lt, ll)
    assert len(calls) == (1 if fast_numba.AVAILABLE else 0)
    monkeypatch.setattr(fast_numba, "AVAILABLE", False)   # without numba: the numpy path, same answer
    no_numba = inference.hmm_viterbi(li, lt, ll)
    c = check_inputs(li, lt, ll)
    assert torch.equal(no_numba.path, inference._viterbi_torch(*c).path)


def test_numba_is_installed():
    """The course's install pulls numba in (pyproject); only a hand-made environment lacks it."""
    assert fast_numba.AVAILABLE
