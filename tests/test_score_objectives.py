"""Score-matching objectives against exact 2-D oracles (float64).

Each "equal up to a model-independent constant" claim is checked as a two-model difference on
the same draws: the per-example difference of differences has mean zero, and we require its
sample mean within 4 standard errors of zero, while the models' explicit losses differ by many
standard errors (so the check has the power to fail).
"""

import math

import pytest
import torch
from torch import nn

from ppl_models import score
from ppl_models.exact2d import eight_gaussians, two_component

DT = torch.float64
A1 = torch.tensor([[-1.2, 0.4], [-0.3, -0.7]], dtype=DT)
B1 = torch.tensor([0.2, -0.1], dtype=DT)


def affine(A, b):
    """The score model s(x) = A x + b (ignores sigma)."""
    return lambda x, sigma: x @ A.T + b


def mlp(seed: int, width: int = 16):
    """s(x) = -x / 2.25 + a small tanh MLP (float64, weights fixed by ``seed``; ignores sigma)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(2, width), nn.Tanh(), nn.Linear(width, 2)).to(DT)
    return lambda x, sigma: -x / 2.25 + net(x)


def recording(fn, calls):
    """Wrap a closure so the test sees the (x, sigma) it was called with."""
    def wrapped(x, sigma):
        calls.append((x.detach(), sigma))
        return fn(x, sigma)
    return wrapped


def mean_and_se(d):
    return d.mean().item(), (d.std() / math.sqrt(d.numel())).item()


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def mixture_data():
    gm = eight_gaussians(noise=0.5)
    x = gm.sample(20_000, generator=gen(1))
    return gm, x, gm.score(x)


# ---------------------------------------------------------------- explicit and implicit

def test_esm_zero_at_true_score_and_closed_form_for_offset(mixture_data):
    gm, x, s_true = mixture_data
    assert score.esm_loss(lambda y, s: gm.score(y, sigma=s), x, s_true).item() == 0.0
    c = torch.tensor([0.3, -0.4], dtype=DT)
    loss = score.esm_loss(lambda y, s: gm.score(y) + c, x, s_true, reduction="none")
    assert loss.shape == (x.shape[0],)
    torch.testing.assert_close(loss, torch.full_like(loss, 0.125), rtol=0, atol=1e-12)


def test_ism_trace_is_the_exact_jacobian_trace():
    x = torch.randn(7, 2, generator=gen(2), dtype=DT)
    # affine model: tr A + |Ax + b|^2 / 2 in closed form
    ism = score.ism_loss(affine(A1, B1), x, reduction="none")
    torch.testing.assert_close(ism, torch.trace(A1) + 0.5 * (x @ A1.T + B1).pow(2).sum(1), rtol=0, atol=1e-12)
    # MLP: against the full Jacobian from torch.autograd.functional
    model = mlp(3)
    ism = score.ism_loss(model, x, reduction="none")
    for i in range(x.shape[0]):
        J = torch.autograd.functional.jacobian(lambda y: model(y[None], 0.0)[0], x[i])
        expect = torch.trace(J) + 0.5 * model(x[i:i + 1], 0.0).pow(2).sum()
        torch.testing.assert_close(ism[i], expect.detach(), rtol=0, atol=1e-12)


def test_ism_has_parameter_gradients():
    w = torch.tensor(0.5, dtype=DT, requires_grad=True)
    x = torch.randn(5, 2, generator=gen(4), dtype=DT)
    loss = score.ism_loss(lambda y, s: -w * y.pow(3), x)  # tr = -3 w sum y^2; |s|^2 = w^2 sum y^6
    loss.backward()
    expect = (-3 * x.pow(2).sum(1) + w.detach() * x.pow(6).sum(1)).mean()
    torch.testing.assert_close(w.grad, expect, rtol=1e-12, atol=0)


def test_ism_equals_esm_minus_half_fisher_information(mixture_data):
    """ISM(m) - ESM(m) = -1/2 E|grad log p|^2 whatever m: two models on the same sample."""
    gm, x, s_true = mixture_data
    diffs = {}
    for name, model in {"affine": affine(A1, B1), "mlp": mlp(5)}.items():
        ism = score.ism_loss(model, x, reduction="none", create_graph=False)
        esm = score.esm_loss(model, x, s_true, reduction="none")
        diffs[name] = (ism - esm).detach()
        const = diffs[name] + 0.5 * s_true.pow(2).sum(1)  # per-example: mean zero
        m, se = mean_and_se(const)
        assert abs(m) < 4 * se, (name, m, se)
    m, se = mean_and_se(diffs["affine"] - diffs["mlp"])
    assert abs(m) < 4 * se, (m, se)
    esm_gap, _ = mean_and_se(score.esm_loss(affine(A1, B1), x, s_true, reduction="none")
                             - score.esm_loss(mlp(5), x, s_true, reduction="none").detach())
    assert abs(esm_gap) > 20 * se  # the models differ by far more than the test's resolution


# ---------------------------------------------------------------- sliced

@pytest.mark.parametrize("shape", [(64, 2), (16, 1, 2, 3)])
def test_ssm_vr_rademacher_is_exact_for_a_diagonal_linear_model(shape):
    x = torch.randn(shape, generator=gen(6), dtype=DT)
    d = torch.linspace(-1.5, 0.5, math.prod(shape[1:]), dtype=DT).view(1, *shape[1:])
    model = lambda y, s: d * y + 0.3  # noqa: E731  (v^T diag(d) v = tr diag(d) for v in {-1, 1}^D)
    ism = score.ism_loss(model, x, reduction="none")
    for m in (1, 3):
        ssm = score.ssm_loss(model, x, generator=gen(7), n_projections=m, variance_reduction=True,
                             reduction="none")
        torch.testing.assert_close(ssm, ism, rtol=0, atol=1e-12)


def test_ssm_vr_rademacher_for_a_general_linear_model_is_exact_up_to_the_off_diagonal_term():
    """For s = A x + b and v in {-1, 1}^2: v^T A v - tr A = (A_12 + A_21) v_1 v_2 exactly."""
    x = torch.randn(64, 2, generator=gen(30), dtype=DT)
    rot = torch.tensor([[-1.2, 0.4], [-0.4, -0.7]], dtype=DT)  # symmetric part diagonal
    for A, gap in ((rot, 0.0), (A1, abs(A1[0, 1] + A1[1, 0]).item())):
        ism = score.ism_loss(affine(A, B1), x, reduction="none")
        ssm = score.ssm_loss(affine(A, B1), x, generator=gen(31), variance_reduction=True, reduction="none")
        torch.testing.assert_close((ssm - ism).abs(), torch.full_like(ism, gap), rtol=0, atol=1e-12)


@pytest.mark.parametrize("projection", score.PROJECTIONS)
@pytest.mark.parametrize("vr", [False, True])
def test_ssm_equals_ism_in_expectation_over_projections(mixture_data, projection, vr):
    gm, x, _ = mixture_data
    x = x[:5000]
    model = mlp(8)
    ism = score.ism_loss(model, x, reduction="none", create_graph=False).detach()
    ssm = score.ssm_loss(model, x, generator=gen(9), projection=projection, variance_reduction=vr,
                         reduction="none", create_graph=False).detach()
    m, se = mean_and_se(ssm - ism)  # given x, each difference has mean zero over v
    assert abs(m) < 4 * se, (m, se)
    assert se < 0.05 * ism.abs().mean().item()


def test_ssm_more_projections_reduce_the_variance(mixture_data):
    _, x, _ = mixture_data
    x, model = x[:2000], mlp(8)
    ism = score.ism_loss(model, x, reduction="none", create_graph=False).detach()
    sd = [(score.ssm_loss(model, x, generator=gen(10), n_projections=m, projection="gaussian",
                          reduction="none", create_graph=False).detach() - ism).std().item() for m in (1, 16)]
    assert 2.5 < sd[0] / sd[1] < 6.5  # 1/sqrt(M) law: ratio 4


def test_ssm_has_parameter_gradients():
    w = torch.tensor(0.5, dtype=DT, requires_grad=True)
    x = torch.randn(50, 2, generator=gen(11), dtype=DT)
    score.ssm_loss(lambda y, s: -w * y, x, generator=gen(12), variance_reduction=True).backward()
    # v^T(-w I)v = -2 w for Rademacher v in 2-D; d/dw [-2w + w^2 |y|^2 / 2] = -2 + w |y|^2
    torch.testing.assert_close(w.grad, (-2 + 0.5 * x.pow(2).sum(1)).mean(), rtol=1e-12, atol=0)


# ---------------------------------------------------------------- denoising

def _dsm_minus_esm(model, x, sigma, gm, seed):
    calls = []
    dsm = score.dsm_loss(recording(model, calls), x, sigma, generator=gen(seed), reduction="none").detach()
    xt, sig = calls[0]
    esm = score.esm_loss(model, xt, gm.score(xt, sigma=sig), sig, reduction="none").detach()
    return dsm, esm, xt


@pytest.mark.parametrize("sigma_kind", ["float", "tensor"])
def test_dsm_equals_esm_on_the_perturbed_density_plus_a_constant(sigma_kind):
    gm = two_component()
    x = gm.sample(20_000, generator=gen(13))
    sigma = 0.7 if sigma_kind == "float" else 0.3 + torch.rand(x.shape[0], generator=gen(14), dtype=DT)
    sig = torch.as_tensor(sigma, dtype=DT).expand(x.shape[0])
    gaps = []
    for model in (affine(A1, B1), mlp(15)):
        dsm, esm, xt = _dsm_minus_esm(model, x, sigma, gm, seed=16)
        z = (xt - x) / sig[:, None]
        # the constant: E|z|^2 / (2 sigma^2) - E|grad log p_sigma|^2 / 2, per example with mean zero
        const = dsm - esm - 0.5 * z.pow(2).sum(1) / sig**2 + 0.5 * gm.score(xt, sigma=sig).pow(2).sum(1)
        m, se = mean_and_se(const)
        assert abs(m) < 4 * se, (m, se)
        gaps.append((dsm - esm, esm))
    m, se = mean_and_se(gaps[0][0] - gaps[1][0])
    assert abs(m) < 4 * se, (m, se)
    esm_gap, _ = mean_and_se(gaps[0][1] - gaps[1][1])
    assert abs(esm_gap) > 20 * se


def test_ncsn_loss_is_the_sigma2_weighted_esm_up_to_a_constant():
    gm = eight_gaussians(noise=0.2)
    x = gm.sample(20_000, generator=gen(17))
    sigmas = score.geometric_sigmas(3.0, 0.1, 6)
    per_model = []
    for model in (affine(A1, B1), mlp(18)):
        calls = []
        loss = score.ncsn_loss(recording(model, calls), x, sigmas, generator=gen(19), reduction="none")
        loss = loss.detach()
        xt, sig = calls[0]
        assert torch.is_tensor(sig) and sig.shape == (x.shape[0],)
        assert set(sig.tolist()) == set(sigmas.tolist())  # every level drawn
        esm = score.esm_loss(model, xt, gm.score(xt, sigma=sig), sig, reduction="none").detach()
        per_model.append((loss, sig**2 * esm, esm))
    m, se = mean_and_se((per_model[0][0] - per_model[0][1]) - (per_model[1][0] - per_model[1][1]))
    assert abs(m) < 4 * se, (m, se)
    unweighted, _ = mean_and_se((per_model[0][0] - per_model[0][2]) - (per_model[1][0] - per_model[1][2]))
    assert abs(unweighted) > 20 * se  # the sigma^2 weighting is what makes the difference vanish


def test_ncsn_loss_of_the_exact_score_has_the_closed_form_constant():
    """sigma^2 J_DSM(exact score) = D/2 - sigma^2 E|grad log p_sigma|^2 / 2, per level drawn."""
    gm = eight_gaussians(noise=0.5)
    x = gm.sample(20_000, generator=gen(20))
    calls = []
    exact = recording(lambda y, s: gm.score(y, sigma=s), calls)
    sigmas = score.geometric_sigmas(2.0, 0.05, 5)
    loss = score.ncsn_loss(exact, x, sigmas, generator=gen(21), reduction="none")
    xt, sig = calls[0]
    z = (xt - x) / sig[:, None]
    m, se = mean_and_se(loss - 0.5 * z.pow(2).sum(1) + 0.5 * sig**2 * gm.score(xt, sigma=sig).pow(2).sum(1))
    assert abs(m) < 4 * se, (m, se)
    assert loss.mean().item() < 1.0  # below D/2: the exact score removes part of the noise's energy


def test_dsm_and_ncsn_on_images_match_the_gaussian_closed_form():
    """(B, 1, 2, 2) images of N(0, I): with the exact score -x / (1 + sigma^2),
    |sigma s + z|^2 / 2 has mean D / (2 (1 + sigma^2)) per example (D = 4)."""
    x = torch.randn(20_000, 1, 2, 2, generator=gen(22), dtype=DT)
    def gauss_score(y, s):
        return -y / (1 + (s.view(-1, 1, 1, 1) if torch.is_tensor(s) else s) ** 2)

    calls = []
    exact = recording(gauss_score, calls)
    loss = score.ncsn_loss(exact, x, score.geometric_sigmas(3.0, 0.1, 4), generator=gen(23), reduction="none")
    sig = calls[0][1]
    m, se = mean_and_se(loss - 2.0 / (1 + sig**2))
    assert abs(m) < 4 * se, (m, se)
    dsm = score.dsm_loss(exact, x, 0.5, generator=gen(24), reduction="none")  # = ncsn / sigma^2 at one level
    m, se = mean_and_se(dsm - 2.0 / (0.25 * 1.25))
    assert abs(m) < 4 * se, (m, se)
    zero_dim = score.dsm_loss(exact, x, torch.tensor(0.5), generator=gen(24), reduction="none")
    torch.testing.assert_close(zero_dim, dsm, rtol=0, atol=0)  # a 0-d tensor level is a number


# ---------------------------------------------------------------- bad inputs

def test_bad_inputs_raise_value_errors_naming_the_argument():
    x = torch.randn(4, 2, generator=gen(), dtype=DT)
    ok, g = affine(A1, B1), gen()
    lad = score.geometric_sigmas(1.0, 0.1, 3)
    cases = [
        (lambda: score.esm_loss(ok, x, x[:3]), "true_score"),
        (lambda: score.esm_loss(ok, x, x + math.nan), "true_score"),
        (lambda: score.esm_loss(ok, x[0], x[0]), "x"),
        (lambda: score.esm_loss(ok, x, x, sigma=-0.1), "sigma"),
        (lambda: score.esm_loss(ok, x, x, reduction="sum"), "reduction"),
        (lambda: score.esm_loss(None, x, x), "score_fn"),
        (lambda: score.ism_loss(ok, x.int()), "x"),
        (lambda: score.ism_loss(ok, x, sigma=torch.ones(2, dtype=DT)), "sigma"),
        (lambda: score.ism_loss(lambda y, s: y.detach(), x), "score_fn"),
        (lambda: score.ism_loss(lambda y, s: y[:, :1], x), "score_fn"),
        (lambda: score.ism_loss(ok, torch.zeros(0, 2, dtype=DT)), "x"),
        (lambda: score.ssm_loss(ok, x, generator=g, projection="sphere"), "projection"),
        (lambda: score.ssm_loss(ok, x, generator=g, n_projections=0), "n_projections"),
        (lambda: score.ssm_loss(ok, x, generator=None), "generator"),
        (lambda: score.ssm_loss(ok, x, sigma=math.nan, generator=g), "sigma"),
        (lambda: score.dsm_loss(ok, x, 0.0, generator=g), "sigma"),
        (lambda: score.dsm_loss(ok, x, torch.tensor([1.0, 1.0, -1.0, 1.0], dtype=DT), generator=g), "sigma"),
        (lambda: score.dsm_loss(ok, x + math.inf, 1.0, generator=g), "x"),
        (lambda: score.dsm_loss(ok, x, 1.0, generator=g, reduction=None), "reduction"),
        (lambda: score.ncsn_loss(ok, x, lad.flip(0), generator=g), "sigmas"),
        (lambda: score.ncsn_loss(ok, x, torch.tensor([1.0, 0.5, 0.5], dtype=DT), generator=g), "sigmas"),
        (lambda: score.ncsn_loss(ok, x, [1.0, 0.5], generator=g), "sigmas"),
        (lambda: score.ncsn_loss(ok, x, lad, generator="0"), "generator"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=rf"^{name}\b"):
            call()
