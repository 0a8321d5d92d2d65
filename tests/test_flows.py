"""ppl_models.flows against closed forms: paths, the flow-matching theorem, solvers, likelihoods, reflow.

The oracle is the eight-Gaussian mixture: along an affine Gaussian path
:math:`x_t = \\alpha_t x_0 + \\sigma_t\\varepsilon` its marginal is again a mixture, so the marginal
velocity :math:`\\mathbb E[u_t \\mid x_t]` is exact (``flows.marginal_velocity_gmm``).
"""

import itertools
import math

import pytest
import torch
from torchdiffeq import odeint

from ppl_models import data, flows
from ppl_models import diffusion as dm
from ppl_models.exact2d import eight_gaussians
from ppl_models.nets import TimeMLP

F64 = torch.float64
GM = eight_gaussians(noise=0.1)
SDE = dm.VPSDE("linear")


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- paths
def test_cond_ot_path_closed_form():
    g = _gen(0)
    x0, eps = torch.randn(64, 2, generator=g, dtype=F64), torch.randn(64, 2, generator=g, dtype=F64)
    t = torch.rand(64, generator=g, dtype=F64)
    xt, ut = flows.sample_path(flows.CondOTPath(), x0, t, eps)
    torch.testing.assert_close(xt, (1 - t)[:, None] * x0 + t[:, None] * eps, rtol=0, atol=1e-15)
    torch.testing.assert_close(ut, eps - x0, rtol=0, atol=1e-15)
    s = 1e-2
    xt, ut = flows.sample_path(flows.CondOTPath(sigma_min=s), x0, t, eps)
    torch.testing.assert_close(
        xt, (1 - t)[:, None] * x0 + (s + (1 - s) * t)[:, None] * eps, rtol=0, atol=1e-15
    )
    torch.testing.assert_close(ut, (1 - s) * eps - x0, rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "path", [flows.CondOTPath(1e-3), flows.VPPath(SDE), flows.VPPath(dm.VPSDE("cosine"))]
)
def test_path_velocity_is_time_derivative(path):
    """u_t equals the central finite difference of x_t in t (the same x0 and noise), and images broadcast."""
    g = _gen(1)
    x0, eps = (
        torch.randn(32, 1, 4, 4, generator=g, dtype=F64),
        torch.randn(32, 1, 4, 4, generator=g, dtype=F64),
    )
    t = 0.05 + 0.9 * torch.rand(32, generator=g, dtype=F64)
    h = 1e-6
    xp, _ = flows.sample_path(path, x0, t + h, eps)
    xm, _ = flows.sample_path(path, x0, t - h, eps)
    xt, ut = flows.sample_path(path, x0, t, eps)
    torch.testing.assert_close(ut, (xp - xm) / (2 * h), rtol=1e-6, atol=1e-6)
    a, s = path.marginal(t)
    torch.testing.assert_close(xt, a.view(-1, 1, 1, 1) * x0 + s.view(-1, 1, 1, 1) * eps, rtol=0, atol=1e-14)


def test_vp_path_matches_the_sde_marginal():
    t = torch.linspace(0.01, 1, 50, dtype=F64)
    a, s = flows.VPPath(SDE).marginal(t)
    a2, s2 = SDE.marginal(t)
    torch.testing.assert_close(a, a2, rtol=0, atol=0)
    torch.testing.assert_close(a**2 + s**2, torch.ones_like(t), rtol=0, atol=1e-14)


def test_vp_velocity_is_the_probability_flow_drift():
    """Diffusion as a flow: the VP path's marginal velocity equals -beta/2 (x + score), exactly."""
    g = _gen(2)
    x = 2 * torch.randn(200, 2, generator=g, dtype=F64)
    t = 0.01 + 0.98 * torch.rand(200, generator=g, dtype=F64)
    path = flows.VPPath(SDE)

    def score_fn(x, t):
        a, s = SDE.marginal(t)
        return GM.score(x, sigma=s, scale=a)

    drift = dm.probability_flow_drift(score_fn, SDE)(x, t)
    torch.testing.assert_close(flows.marginal_velocity_gmm(GM, path)(x, t), drift, rtol=1e-9, atol=1e-9)
    eps_fn = dm.eps_fn_from_score(score_fn, SDE)
    torch.testing.assert_close(flows.velocity_from_eps(eps_fn, path)(x, t), drift, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("path", [flows.CondOTPath(), flows.CondOTPath(1e-2), flows.VPPath(SDE)])
def test_velocity_eps_x0_conversions_invert(path):
    g = _gen(3)
    x = torch.randn(100, 2, generator=g, dtype=F64)
    t = 0.02 + 0.96 * torch.rand(100, generator=g, dtype=F64)

    def eps_fn(x, t):
        return torch.tanh(x) * (1 + t[:, None])

    v = flows.velocity_from_eps(eps_fn, path)
    torch.testing.assert_close(flows.eps_from_velocity(v, path)(x, t), eps_fn(x, t), rtol=1e-10, atol=1e-10)
    a, s = path.marginal(t)
    x0 = flows.x0_from_velocity(v, path)(x, t)
    torch.testing.assert_close(a[:, None] * x0 + s[:, None] * eps_fn(x, t), x, rtol=1e-10, atol=1e-10)
    if isinstance(path, flows.CondOTPath) and path.sigma_min == 0:
        torch.testing.assert_close(x0, x - t[:, None] * v(x, t), rtol=1e-12, atol=1e-12)


def test_marginal_velocity_is_the_conditional_mean():
    """E[u_t | x_t] by Monte Carlo over x0 ~ p(x0 | x_t) equals the closed form (one point, one time)."""
    path, t = flows.CondOTPath(), 0.5
    x = torch.tensor([[1.0, 0.8]], dtype=F64)
    a, s = 1 - t, t
    # posterior over x0 given x_t: mixture with responsibilities of the perturbed components
    g = _gen(4)
    x0 = GM.sample(400_000, g)
    logw = -0.5 * ((x - a * x0) / s).pow(2).sum(1)
    w = torch.softmax(logw, 0)
    u = (x - a * x0) / s - x0  # eps - x0 with eps = (x - a x0) / s
    mc = (w[:, None] * u).sum(0, keepdim=True)
    exact = flows.marginal_velocity_gmm(GM, path)(x, torch.full((1,), t, dtype=F64))
    torch.testing.assert_close(mc, exact, rtol=0, atol=2e-2)


# ----------------------------------------------------------------------------- the loss
def test_cfm_loss_equals_hand_computation():
    g = _gen(5)
    x0, eps = torch.randn(16, 2, generator=g, dtype=F64), torch.randn(16, 2, generator=g, dtype=F64)
    t = torch.rand(16, generator=g, dtype=F64)

    def v(x, t):
        return 0.3 * x + t[:, None]

    loss = flows.cfm_loss(v, x0, flows.CondOTPath(), t=t, noise=eps)
    xt = (1 - t)[:, None] * x0 + t[:, None] * eps
    torch.testing.assert_close(loss, (v(xt, t) - (eps - x0)).pow(2).mean(1), rtol=0, atol=1e-15)


@pytest.mark.parametrize("path", [flows.CondOTPath(), flows.VPPath(SDE)])
def test_conditional_and_marginal_losses_differ_by_a_model_free_constant(path):
    """Lipman et al. Theorem 2: L_CFM(theta) - L_FM(theta) does not depend on theta.

    Per sample, [CFM - FM](theta1) - [CFM - FM](theta2) = 2 <v1 - v2, v* - u_t>, whose mean is zero;
    it must vanish within 4 standard errors while the losses of the two models differ by far more.
    """
    g = _gen(6)
    n = 200_000
    x0 = GM.sample(n, g)
    eps = torch.randn(n, 2, generator=g, dtype=F64)
    t = 0.02 + 0.96 * torch.rand(n, generator=g, dtype=F64)
    xt, ut = flows.sample_path(path, x0, t, eps)
    vstar = flows.marginal_velocity_gmm(GM, path)(xt, t)
    models = [
        lambda x, t: -x,
        lambda x, t: torch.tanh(2 * x) * t[:, None] + 0.5,
        lambda x, t: torch.zeros_like(x) + 1.0,
    ]
    consts, cfm = [], []
    for m in models:
        v = m(xt, t)
        c_i = (v - ut).pow(2).sum(1)
        consts.append(c_i - (v - vstar).pow(2).sum(1))
        cfm.append(c_i)
    for i, j in itertools.combinations(range(len(models)), 2):
        d = consts[i] - consts[j]
        assert abs(float(d.mean())) < 4 * float(d.std()) / math.sqrt(n), (i, j, float(d.mean()))
        e = cfm[i] - cfm[j]
        assert abs(float(e.mean())) > 20 * float(e.std()) / math.sqrt(n)
    # the constant is E||u||^2 - E||v*||^2 (the model v = 0), positive: the conditional targets are noisier
    zero = ut.pow(2).sum(1) - vstar.pow(2).sum(1)
    const = float(zero.mean())
    for c in consts:
        d = c - zero
        assert abs(float(d.mean())) < 4 * float(d.std()) / math.sqrt(n)
    assert const > 0


def test_ot_coupling_is_the_brute_force_optimum():
    g = _gen(7)
    x0, eps = torch.randn(6, 3, generator=g, dtype=F64), torch.randn(6, 3, generator=g, dtype=F64)
    out = flows.ot_coupling(x0, eps)
    best = min(float((x0 - eps[list(p)]).pow(2).sum()) for p in itertools.permutations(range(6)))
    assert math.isclose(float((x0 - out).pow(2).sum()), best, rel_tol=1e-12)
    assert sorted(map(tuple, out.tolist())) == sorted(map(tuple, eps.tolist()))  # a permutation of the rows
    img = torch.randn(5, 1, 3, 3, generator=g)
    assert flows.ot_coupling(img, img.flip(0)).equal(img)  # identical sets pair up


# ----------------------------------------------------------------------------- solvers
def _linear(x, t):
    return -2.0 * t[:, None] * x  # x(t) = x(t0) exp(-(t^2 - t0^2))


A = torch.tensor([[-0.5, 1.0], [-1.0, -0.5]], dtype=F64)


def _rotation(x, t):
    return x @ A.T


@pytest.mark.parametrize(("method", "tdq"), [("euler", "euler"), ("midpoint", "midpoint"), ("heun", "heun2")])
def test_fixed_step_solvers_equal_torchdiffeq(method, tdq):
    x = torch.randn(8, 2, generator=_gen(8), dtype=F64)
    grid = torch.linspace(1.0, 0.0, 11, dtype=F64)
    for f in (_linear, _rotation):
        ours = flows.solve(f, x, 1.0, 0.0, steps=10, method=method)
        ref = odeint(lambda t, y, f=f: f(y, t.expand(y.shape[0])), x, grid, method=tdq)[-1]
        torch.testing.assert_close(ours.x, ref, rtol=1e-13, atol=1e-13)
        assert ours.nfe == 10 * flows.evals_per_step(method)


@pytest.mark.parametrize(("method", "order"), [("euler", 1), ("midpoint", 2), ("heun", 2)])
def test_solvers_converge_to_the_known_solution_at_their_order(method, order):
    x = torch.randn(8, 2, generator=_gen(9), dtype=F64)
    exact = x * math.exp(1.0)  # from t0 = 1 to t1 = 0: exp(-(0 - 1))
    errs = [float((flows.solve(_linear, x, steps=k, method=method).x - exact).abs().max()) for k in (20, 40)]
    assert 0.8 * 2**order < errs[0] / errs[1] < 1.25 * 2**order, errs
    adaptive = flows.solve(_linear, x, method="adaptive", rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(adaptive.x, exact, rtol=1e-8, atol=1e-8)
    assert adaptive.nfe > 0
    rot = flows.solve(_rotation, x, 0.0, 1.0, method="adaptive", rtol=1e-10, atol=1e-10).x
    torch.testing.assert_close(rot, x @ torch.linalg.matrix_exp(A).T, rtol=1e-8, atol=1e-8)


def test_sample_budget_and_path():
    x = torch.randn(4, 2, generator=_gen(10), dtype=F64)
    out = flows.sample(_rotation, x, nfe=8, method="midpoint", return_path=True)
    assert out.nfe == 8 and out.path.shape == (5, 4, 2) and out.times.shape == (5,)
    torch.testing.assert_close(out.path[0], x, rtol=0, atol=0)
    torch.testing.assert_close(out.path[-1], out.x, rtol=0, atol=0)
    assert flows.sample(_rotation, x, nfe=3, method="euler").nfe == 3
    one = flows.sample(_rotation, x, nfe=1, method="euler").x
    torch.testing.assert_close(one, x - _rotation(x, None), rtol=0, atol=1e-15)  # one Euler step


# ----------------------------------------------------------------------------- likelihood
def test_change_of_variables_of_an_affine_flow_is_the_gaussian_density():
    """v(x) = A x + b maps x to z = M x + c (M = e^A); p_0 is then the Gaussian N(-M^-1 c, (M^T M)^-1)."""
    b = torch.tensor([0.3, -0.7], dtype=F64)

    def v(x, t):
        return x @ A.T + b

    M = torch.linalg.matrix_exp(A)
    c = torch.linalg.solve(A, (M - torch.eye(2, dtype=F64)) @ b)
    Minv = torch.linalg.inv(M)
    gauss = torch.distributions.MultivariateNormal(-Minv @ c, Minv @ Minv.T)
    x = 1.5 * torch.randn(50, 2, generator=_gen(11), dtype=F64)
    ll = flows.log_likelihood(v, x, method="adaptive", rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(ll.log_prob, gauss.log_prob(x), rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(
        ll.delta, torch.full((50,), float(torch.trace(A)), dtype=F64), rtol=1e-8, atol=1e-8
    )
    torch.testing.assert_close(ll.z, x @ M.T + c, rtol=1e-8, atol=1e-8)
    rk4 = flows.log_likelihood(v, x, method="rk4", steps=100)
    torch.testing.assert_close(rk4.log_prob, gauss.log_prob(x), rtol=1e-8, atol=1e-8)
    # Hutchinson with Gaussian probes: unbiased, so its mean over many points agrees within 4 standard errors
    xs = x.repeat(40, 1)
    h = flows.log_likelihood(
        v, xs, method="rk4", steps=20, divergence="hutchinson", probe="gaussian", generator=_gen(12)
    )
    d = h.log_prob - gauss.log_prob(xs)
    assert abs(float(d.mean())) < 4 * float(d.std()) / math.sqrt(len(d))
    assert float(d.std()) > 0.01  # it is an estimate, not the exact value


def test_log_likelihood_with_a_non_gaussian_source():
    """Source density given: the identity flow (v = 0) returns the source's own log-density."""
    x = GM.sample(20, _gen(13))
    ll = flows.log_likelihood(lambda x, t: 0 * x, x, prior_log_prob=GM.log_prob, steps=2)
    torch.testing.assert_close(ll.log_prob, GM.log_prob(x), rtol=0, atol=1e-14)


# ----------------------------------------------------------------------------- reflow
def test_straightness_and_reflow_pairs():
    x = torch.randn(16, 2, generator=_gen(14), dtype=F64)
    const = flows.straightness(lambda x, t: torch.ones_like(x), x, steps=10)
    torch.testing.assert_close(const, torch.zeros(16, dtype=F64), rtol=0, atol=1e-24)
    assert bool((flows.straightness(_rotation, x, steps=50) > 0.01).all())
    pairs = flows.reflow_pairs(_rotation, x, steps=20, method="midpoint", batch_size=5)
    torch.testing.assert_close(
        pairs.x0, flows.solve(_rotation, x, steps=20, method="midpoint").x, rtol=0, atol=0
    )
    assert pairs.noise is x and pairs.nfe == 40


# ----------------------------------------------------------------------------- targets
def test_exact_2d_densities_integrate_to_one_and_match_the_data_sets():
    g1 = torch.linspace(-2.5, 2.5, 251, dtype=F64)
    gx, gy = torch.meshgrid(g1, g1, indexing="xy")
    pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    da = float(g1[1] - g1[0]) ** 2
    for dens in (flows.TwoMoons(0.1), flows.Checkerboard(0.1)):
        assert abs(float(dens.log_prob(pts).exp().sum()) * da - 1) < 2e-3
    # the data sets sit where the densities do: every checkerboard point on a square, moons at the same level
    x_cb = data.make_toy_2d("checkerboard", 2000, device="cpu", dtype=F64)
    assert bool(torch.isfinite(flows.Checkerboard().log_prob(x_cb)).all())
    assert bool(
        torch.isfinite(flows.Checkerboard().log_prob(flows.Checkerboard().sample(2000, _gen(15)))).all()
    )
    moons = flows.TwoMoons(0.05)
    lp_data = moons.log_prob(data.make_toy_2d("two_moons", 4000, device="cpu", dtype=F64))
    lp_own = moons.log_prob(moons.sample(4000, _gen(16)))
    se = math.sqrt(float(lp_data.var() + lp_own.var()) / 4000)
    assert abs(float(lp_data.mean() - lp_own.mean())) < 4 * se
    # quadrature converged; a smoothed checkerboard tends to the sharp one inside the squares
    torch.testing.assert_close(
        flows.TwoMoons(0.05, 256).log_prob(pts[::50]), moons.log_prob(pts[::50]), rtol=0, atol=1e-9
    )
    centre = flows.Checkerboard.squares() + 0.5
    torch.testing.assert_close(
        flows.Checkerboard(1e-3).log_prob(centre),
        torch.full((8,), -math.log(8), dtype=F64),
        rtol=0,
        atol=1e-12,
    )


def test_checkerboard_contains_is_the_parity_rule():
    # reference: the square with lower-left corner (i, j), i, j in {-2, ..., 1}, is on iff i + j is even
    x = 5 * torch.rand(20_000, 2, generator=_gen(17), dtype=F64) - 2.5
    x = x[((x - x.round()).abs() > 1e-6).all(1)]                     # no point on a grid line
    fl = x.floor()
    ref = ((fl.sum(1) % 2) == 0) & (fl >= -2).all(1) & (fl <= 1).all(1)
    got = flows.Checkerboard().contains(x)
    assert got.dtype == torch.bool and torch.equal(got, ref)
    # closed squares, the log-density's support, and half of the box [-2, 2]^2
    assert bool(flows.Checkerboard().contains(flows.Checkerboard.squares()).all())
    torch.testing.assert_close(
        flows.Checkerboard().contains(x).double(), torch.isfinite(flows.Checkerboard().log_prob(x)).double(),
        rtol=0, atol=0,
    )
    box = 4 * torch.rand(200_000, 2, generator=_gen(18), dtype=F64) - 2
    share = float(flows.Checkerboard(0.3).contains(box).double().mean())
    assert abs(share - 0.5) < 4 * math.sqrt(0.25 / 200_000)


# ----------------------------------------------------------------------------- training
@pytest.mark.parametrize("kind", ["independent", "ot", "source", "pairs", "labels"])
def test_train_flow_runs_and_learns(kind):
    x = GM.sample(512, _gen(17)).float()
    net = TimeMLP(2, (32, 32), time_dim=16, n_classes=3 if kind == "labels" else 0)
    cfg = flows.FlowConfig(
        n_epochs=6, batch_size=128, warmup=0, ema_decay=0.9, coupling="ot" if kind == "ot" else "independent"
    )
    kw = {}
    if kind == "source":
        kw["source"] = lambda n, g: GM.sample(n, g).float() * 0.5
    elif kind == "pairs":
        kw["noise"] = torch.randn(512, 2, generator=_gen(18))
    elif kind == "labels":
        kw["y"], kw["null_index"] = torch.randint(0, 3, (512,), generator=_gen(19)), 3
    hist, ema = flows.train_flow(net, x, flows.CondOTPath(), cfg, progress=False, **kw)
    assert hist.steps == 24 and hist.loss[-1] < hist.loss[0]
    assert set(ema) == set(net.state_dict())


def test_recipe_smoke_config():
    from ppl_models.flows import recipes

    r = recipes.ch08_flow_unet_mnist(True)
    assert r.name == "ch08_flow_unet_mnist" and r.version == flows.MODEL_VERSION
    assert r.cfg["train"]["n_epochs"] == 2 and r.data[0].shape == (256, 1, 28, 28)
    full = recipes.ch08_flow_unet_mnist(False)
    assert full.cfg["unet"]["channels"] == [8, 16, 32] or full.cfg["unet"]["channels"] == (8, 16, 32)
    net = r.make_model()
    assert sum(p.numel() for p in net.parameters()) > 0
