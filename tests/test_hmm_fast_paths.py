"""The CPU fast paths of ppl_models.hmm.inference give exactly the results of the generic torch loops."""

import pytest
import torch

from ppl_models.hmm import inference
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
    (80, (4,), 12, torch.float64, False), (60, (8,), 9, torch.float32, False),  # n K^2 > 20,000: torch add
    (4, (6,), 20, torch.float64, True)])
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


def test_viterbi_ties_go_to_lowest_state():
    k = 3
    li = torch.full((k,), -torch.log(torch.tensor(float(k), dtype=torch.float64)))
    lt = torch.full((k, k), li[0].item(), dtype=torch.float64)
    ll = torch.zeros(2, 6, k, dtype=torch.float64)  # every path equally likely
    fast = inference.hmm_viterbi(li, lt, ll)
    assert (fast.path == 0).all()
    c = check_inputs(li, lt, ll)
    assert torch.equal(fast.path, inference._viterbi_torch(*c).path)
