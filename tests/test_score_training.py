"""Noise-conditional score training: the closure, the ladder ratio, the objectives, bad inputs."""

import math

import pytest
import torch
from scipy.stats import norm

from ppl_models import score
from ppl_models.nets import TimeMLP
from ppl_models.score.training import _objective_loss

DT = torch.float64


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_overlap_ratio_solves_the_coverage_equation():
    for dim, overlap in ((784, 0.5), (3072, 0.5), (64, 0.3)):
        g = score.overlap_ratio(dim, overlap)
        r = math.sqrt(2 * dim)
        cov = norm.cdf(r * (g - 1) + 3 * g) - norm.cdf(r * (g - 1) - 3 * g)
        assert g > 1 and abs(cov - overlap) < 1e-9
    assert score.overlap_ratio(3072) < score.overlap_ratio(784)  # more dimensions, finer ladder
    # Song & Ermon (2020)'s CIFAR-10 ladder (sigma 50 -> 0.01, L = 232) has ratio 5000^(1/231) = 1.0376
    assert abs(score.overlap_ratio(3072) - 5000 ** (1 / 231)) < 0.005


def test_noise_conditional_score_is_net_over_sigma_at_mapped_time():
    net = TimeMLP(2, hidden=(16,), seed=0).to(DT)
    fn = score.noise_conditional_score(net, 4.0, 0.05)
    x = torch.randn(5, 2, generator=gen(0), dtype=DT)
    sig = torch.tensor([4.0, 0.05, 1.0, 0.3, 2.0], dtype=DT)
    t = torch.log(sig / 0.05) / math.log(4.0 / 0.05)
    assert t[0] == 1.0 and t[1] == 0.0
    torch.testing.assert_close(fn(x, sig), net(x, t) / sig[:, None], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fn(x, 0.3), fn(x, torch.full((5,), 0.3, dtype=DT)), rtol=0, atol=0)


def _replay(cfg, xb, sigmas, seed):
    """The draws of `_objective_loss` for a non-DSM objective, replayed from the same seed."""
    g = gen(seed)
    idx = torch.randint(sigmas.shape[0], (xb.shape[0],), generator=g)
    sigma = sigmas[idx]
    xt = xb + sigma[:, None] * torch.randn(xb.shape, generator=g, dtype=DT)
    return sigma, xt, g


def test_objective_losses_are_the_sigma2_weighted_per_example_formulas():
    net = TimeMLP(2, hidden=(16, 16), seed=1).to(DT)
    cfg = score.ScoreTrainConfig()
    sigmas = cfg.sigmas()
    fn = score.noise_conditional_score(net, cfg.sigma_max, cfg.sigma_min)
    xb = torch.randn(64, 2, generator=gen(2), dtype=DT)
    true = lambda y, s: -y / (1.0 + s[:, None] ** 2)  # noqa: E731  N(0, I) perturbed by sigma
    for obj in ("esm", "ism"):
        got = _objective_loss(score.ScoreTrainConfig(objective=obj), fn, xb, sigmas, gen(3), true)
        sigma, xt, _ = _replay(cfg, xb, sigmas, 3)
        xt.requires_grad_(True)
        s = fn(xt, sigma)
        if obj == "esm":
            per = 0.5 * (s - true(xt, sigma)).pow(2).sum(1)
        else:  # exact trace by autograd, one coordinate at a time
            tr = sum(torch.autograd.grad(s[:, j].sum(), xt, retain_graph=True)[0][:, j] for j in range(2))
            per = tr + 0.5 * s.pow(2).sum(1)
        torch.testing.assert_close(got, (sigma**2 * per).mean(), rtol=1e-10, atol=1e-12)
    got = _objective_loss(score.ScoreTrainConfig(objective="dsm"), fn, xb, sigmas, gen(4), None)
    torch.testing.assert_close(got, score.ncsn_loss(fn, xb, sigmas, generator=gen(4)), rtol=0, atol=0)


@pytest.mark.parametrize("objective", score.OBJECTIVES)
def test_each_objective_learns_a_gaussian_score(objective):
    """N(m, 0.5^2 I): the perturbed score -(x - m)/(0.25 + sigma^2) is learned at every level."""
    m = torch.tensor([1.0, -1.0], dtype=DT)
    x = m + 0.5 * torch.randn(4096, 2, generator=gen(5), dtype=DT)
    cfg = score.ScoreTrainConfig(sigma_max=2.0, sigma_min=0.25, n_levels=4, objective=objective, n_epochs=10,
                                 batch_size=128, warmup=20, ema_decay=0.98)
    true = lambda y, s: -(y - m) / (0.25 + s.view(-1, 1) ** 2)  # noqa: E731
    net = TimeMLP(2, hidden=(32, 32), seed=0).to(DT)
    hist, ema = score.train_score_net(net, x, cfg, true_score=true, progress=False)
    assert len(hist.loss) == 10 and all(math.isfinite(v) for v in hist.loss)
    net.load_state_dict(ema)
    fn = score.noise_conditional_score(net, cfg.sigma_max, cfg.sigma_min)
    for s in cfg.sigmas().tolist():
        xs = m + math.sqrt(0.25 + s**2) * torch.randn(2000, 2, generator=gen(6), dtype=DT)
        with torch.no_grad():
            ref = true(xs, torch.full((2000,), s, dtype=DT))
            rel = (fn(xs, s) - ref).pow(2).sum(1).mean() / ref.pow(2).sum(1).mean()
        assert rel < 0.05, (objective, s, float(rel))


def test_config_and_training_bad_inputs():
    with pytest.raises(ValueError, match="objective"):
        score.ScoreTrainConfig(objective="kl")
    with pytest.raises(ValueError, match="projection"):
        score.ScoreTrainConfig(projection="sphere")
    with pytest.raises(ValueError, match="sigma_max"):
        score.ScoreTrainConfig(sigma_max=0.01, sigma_min=0.05)
    with pytest.raises(ValueError, match="n_epochs"):
        score.ScoreTrainConfig(n_epochs=0)
    with pytest.raises(ValueError, match="L"):
        score.ScoreTrainConfig(n_levels=1)
    small = score.ScoreTrainConfig().smoke()
    assert small.n_epochs <= 2 and small.sigmas().shape == (10,)
    net = TimeMLP(2, hidden=(8,), seed=0)
    x = torch.randn(8, 2, generator=gen(0))
    with pytest.raises(ValueError, match="cfg"):
        score.train_score_net(net, x, {"objective": "dsm"})
    with pytest.raises(ValueError, match="net"):
        score.train_score_net(lambda a, b: a, x, score.ScoreTrainConfig())
    with pytest.raises(ValueError, match="x"):
        score.train_score_net(net, torch.ones(8, dtype=torch.int64), score.ScoreTrainConfig())
    with pytest.raises(ValueError, match="true_score"):
        score.train_score_net(net, x, score.ScoreTrainConfig(objective="esm"))
    with pytest.raises(ValueError, match="sigma_min"):
        score.noise_conditional_score(net, 1.0, 0.0)
    with pytest.raises(ValueError, match="sigma"):
        score.noise_conditional_score(net, 1.0, 0.1)(x, -1.0)
    with pytest.raises(ValueError, match="dim"):
        score.overlap_ratio(0)
    with pytest.raises(ValueError, match="overlap"):
        score.overlap_ratio(784, 1.5)
    with pytest.raises(ValueError, match="too small"):
        score.overlap_ratio(2, 0.5)
