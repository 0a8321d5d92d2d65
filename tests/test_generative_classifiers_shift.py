"""Prior-shift correction, prior EM, calibration metrics and learning-curve helpers."""

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss as sk_log_loss

from ppl_models.generative_classifiers import (
    LearningCurves,
    adjust_log_proba,
    crossover,
    estimate_prior_em,
    expected_calibration_error,
    learning_curves,
    log_loss,
    prior_counts,
    sample_with_prior,
    stratified_subsample,
)

F64 = torch.float64


def exact_posteriors(n=4000, prior=(0.6, 0.3, 0.1), seed=0):
    """Three unit-variance 1-D Gaussian classes at -2, 0, 2: exact posteriors under a uniform prior."""
    g = torch.Generator().manual_seed(seed)
    prior_t = torch.tensor(prior, dtype=F64)
    y = torch.multinomial(prior_t, n, replacement=True, generator=g)
    mu = torch.tensor([-2.0, 0.0, 2.0], dtype=F64)
    x = mu[y] + torch.randn(n, generator=g, dtype=F64)
    loglik = -0.5 * (x.unsqueeze(1) - mu) ** 2
    return loglik - loglik.logsumexp(1, keepdim=True), y, prior_t


def test_adjust_equals_bayes_rule_with_new_prior():
    log_post, _, _ = exact_posteriors(n=50)
    uniform = torch.full((3,), 1 / 3, dtype=F64)
    new = torch.tensor([0.5, 0.3, 0.2], dtype=F64)
    # under a uniform training prior the posterior is the normalised likelihood
    joint = log_post + new.log()
    torch.testing.assert_close(adjust_log_proba(log_post, uniform, new),
                               joint - joint.logsumexp(1, keepdim=True), rtol=0, atol=1e-12)
    torch.testing.assert_close(adjust_log_proba(log_post, new, new), log_post, rtol=0, atol=1e-12)


def test_prior_em_recovers_the_test_prior():
    log_post, y, true = exact_posteriors()
    uniform = torch.full((3,), 1 / 3, dtype=F64)
    r = estimate_prior_em(log_post, uniform)
    torch.testing.assert_close(r.prior, true, rtol=0, atol=0.03)
    assert (r.history.diff() > -1e-9).all()
    # fixed point: the mean adapted posterior equals the estimated prior
    torch.testing.assert_close(r.log_proba.exp().mean(0), r.prior, rtol=0, atol=1e-8)
    assert log_loss(r.log_proba, y) < log_loss(log_post, y)


def test_prior_em_with_an_absent_class_stays_finite():
    log_post, y, _ = exact_posteriors(n=300, prior=(0.7, 0.3, 0.0))
    r = estimate_prior_em(log_post, torch.full((3,), 1 / 3, dtype=F64))
    assert float(r.prior[2]) < 0.01 and torch.isfinite(r.log_proba).all()
    assert abs(float(r.prior.sum()) - 1) < 1e-9


def test_log_loss_and_ece_against_references():
    log_post, y, _ = exact_posteriors(n=500)
    assert abs(log_loss(log_post, y) - sk_log_loss(y.numpy(), log_post.exp().numpy())) < 1e-10
    proba = log_post.exp()
    conf, pred = proba.max(1)
    ece = 0.0
    for b in range(10):
        inside = (conf > b / 10) & (conf <= (b + 1) / 10)
        if inside.any():
            gap = (pred[inside] == y[inside]).double().mean() - conf[inside].mean()
            ece += float(inside.double().mean() * gap.abs())
    assert abs(expected_calibration_error(proba, y, n_bins=10) - ece) < 1e-12


def test_sample_with_prior_proportions():
    y = torch.arange(3).repeat_interleave(100)
    idx = sample_with_prior(y, torch.tensor([0.5, 0.3, 0.2]), 100, generator=torch.Generator().manual_seed(0))
    assert torch.bincount(y[idx]).tolist() == [50, 30, 20]
    assert len(set(idx.tolist())) == 100


def test_sample_with_prior_realises_the_requested_prior():
    """Skewed priors: counts within rounding of n * prior, sum to n, every class present."""
    y = torch.arange(10).repeat_interleave(120)
    gen = torch.Generator().manual_seed(0)
    for decay, n in ((0.6, 250), (0.7, 100), (0.8, 57), (0.9, 333)):
        prior = decay ** torch.arange(10, dtype=F64)
        prior = prior / prior.sum()
        idx = sample_with_prior(y, prior, n, generator=gen)
        counts = torch.bincount(y[idx], minlength=10)
        assert len(idx) == n and len(set(idx.tolist())) == n
        assert torch.equal(counts, prior_counts(prior, n))
        assert (counts.double() - n * prior).abs().max() < 1      # within rounding
        assert (counts > 0).all()                                   # every class appears
    # the old flooring bug: 0.6**k at n = 100 gave 44 zeros and no 8s or 9s
    prior = 0.6 ** torch.arange(10, dtype=F64)
    with pytest.raises(ValueError, match="n=100 is too small"):
        prior_counts(prior / prior.sum(), 100)


def test_prior_counts_is_largest_remainder():
    assert prior_counts(torch.tensor([0.5, 0.3, 0.2], dtype=F64), 7).tolist() == [4, 2, 1]  # 3.5, 2.1, 1.4
    assert prior_counts(torch.tensor([0.45, 0.35, 0.2], dtype=F64), 10).tolist() == [5, 3, 2]  # 4.5, 3.5, 2
    p = torch.full((4,), 0.25, dtype=F64)
    assert prior_counts(p, 4).tolist() == [1, 1, 1, 1]
    for bad, match in ((lambda: prior_counts(p, 0), "n must"),
                       (lambda: prior_counts(p.view(2, 2), 4), "prior"),
                       (lambda: prior_counts(torch.tensor([0.5, 0.6]), 4), "prior")):
        with pytest.raises(ValueError, match=match):
            bad()


def test_paired_difference_is_the_per_repeat_difference():
    rng = np.random.default_rng(0)
    shared = rng.normal(size=(6, 3))  # split-to-split noise both curves share
    errors = {"a": shared + 0.01 * rng.normal(size=(6, 3)), "b": shared + 0.1}
    lc = LearningCurves(np.array([10, 20, 40]), errors)
    mean, sem = lc.paired_difference("a", "b")
    d = errors["a"] - errors["b"]
    np.testing.assert_allclose(mean, d.mean(0), atol=1e-12)
    np.testing.assert_allclose(sem, d.std(0, ddof=1) / np.sqrt(6), atol=1e-12)
    assert (sem < lc.sem("a")).all()  # pairing removes the shared noise
    assert np.all(np.abs(mean + 0.1) < 3 * sem + 1e-12)
    with pytest.raises(ValueError, match="no classifier"):
        lc.paired_difference("a", "c")


def test_stratified_subsample_and_learning_curves():
    y = torch.arange(4).repeat_interleave(25)
    idx = stratified_subsample(y, 10, generator=torch.Generator().manual_seed(0))
    assert torch.bincount(y[idx], minlength=4).min() >= 2 and len(idx) == 10
    X = y.double().unsqueeze(1)
    perfect = lambda Xtr, ytr, Xte: Xte[:, 0].long()
    always0 = lambda Xtr, ytr, Xte: torch.zeros(len(Xte), dtype=torch.long)
    lc = learning_curves({"perfect": perfect, "zero": always0}, X, y, X, y, [8, 20], n_repeats=2)
    assert lc.errors["perfect"].shape == (2, 2) and lc.mean("perfect").max() == 0
    np.testing.assert_allclose(lc.mean("zero"), 0.75)
    assert lc.sem("zero").max() == 0


def test_crossover():
    expected = np.exp(np.log(10) + 2 / 3 * np.log(10))  # the difference 0.1 -> -0.05 is zero 2/3 of the way
    assert crossover([10, 100], [0.2, 0.1], [0.3, 0.05]) == pytest.approx(expected)
    assert crossover([10, 100], [0.2, 0.1], [0.1, 0.05]) is None
    assert crossover([10, 100], [0.2, 0.1], [0.3, 0.2]) is None
    # b dips below, comes back above, then overtakes for good between 100 and 1000
    assert 100 < crossover([10, 100, 1000], [0.3, 0.2, 0.1], [0.2, 0.25, 0.05]) < 1000


def test_bad_inputs():
    log_post, y, prior = exact_posteriors(n=20)
    cases = [
        (lambda: adjust_log_proba(log_post.exp() + 1, prior, prior), "log_proba"),
        (lambda: adjust_log_proba(log_post, prior[:2], prior), "train_prior"),
        (lambda: adjust_log_proba(log_post, prior, -prior), "new_prior"),
        (lambda: estimate_prior_em(log_post, prior, n_iter=0), "n_iter"),
        (lambda: estimate_prior_em(log_post, prior, tol=-1.0), "tol"),
        (lambda: log_loss(log_post, y[:-1]), "y"),
        (lambda: expected_calibration_error(log_post, y), "proba"),
        (lambda: expected_calibration_error(log_post.exp(), y, n_bins=0), "n_bins"),
        (lambda: sample_with_prior(y, prior, 10_000), "n"),
        (lambda: sample_with_prior(y, torch.ones(3), 5), "prior"),
        (lambda: stratified_subsample(y, 1), "n"),
        (lambda: learning_curves({}, log_post, y, log_post, y, [6], 1), "classifiers"),
        (lambda: learning_curves({"a": None}, log_post, y, log_post, y, [6], 0), "n_repeats"),
        (lambda: crossover([10, 5], [1, 2], [2, 1]), "sizes"),
        (lambda: crossover([10], [1], [2]), "sizes"),
    ]
    for fn, match in cases:
        with pytest.raises(ValueError, match=match):
            fn()
