"""Class-conditional Gaussian classifiers against scikit-learn and dense-Gaussian references."""

import numpy as np
import pytest
import torch
from sklearn.covariance import ledoit_wolf
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis
from sklearn.naive_bayes import GaussianNB

from ppl_models.generative_classifiers import (
    GaussianClassifierParams,
    class_log_likelihood,
    fit_gaussian_classifier,
    ledoit_wolf_shrinkage,
    n_covariance_parameters,
    predict_log_proba,
    sample_class_conditional,
    with_prior,
)
from ppl_models.ppca import ppca_mle

F64 = torch.float64
QDA_DDOF = 0  # scikit-learn 1.9 QDA uses the maximum-likelihood (1/n_k) class covariances



def make_xy(n=300, d=4, k=3, seed=0):
    """Correlated Gaussian classes with unequal sizes."""
    g = torch.Generator().manual_seed(seed)
    y = torch.cat([torch.full((n * (i + 1) // (k * (k + 1) // 2),), i) for i in range(k)])
    A = torch.randn(k, d, d, generator=g, dtype=F64) * 0.6
    mu = torch.randn(k, d, generator=g, dtype=F64) * 2
    z = torch.randn(len(y), d, 1, generator=g, dtype=F64)
    return mu[y] + (A[y] @ z).squeeze(-1), y


def test_diag_equals_gaussian_naive_bayes():
    X, y = make_xy()
    nb = GaussianNB().fit(X.numpy(), y.numpy())
    p = fit_gaussian_classifier(X, y, "diag", reg=float(nb.epsilon_))
    torch.testing.assert_close(p.means, torch.tensor(nb.theta_), rtol=0, atol=1e-12)
    var = torch.diagonal(p.covariances, dim1=-2, dim2=-1)
    torch.testing.assert_close(var, torch.tensor(nb.var_), rtol=0, atol=1e-12)
    torch.testing.assert_close(p.log_prior.exp(), torch.tensor(nb.class_prior_), rtol=0, atol=1e-12)
    torch.testing.assert_close(predict_log_proba(p, X), torch.tensor(nb.predict_log_proba(X.numpy())),
                               rtol=0, atol=1e-8)


def test_full_equals_qda_and_tied_equals_lda():
    X, y = make_xy()
    qda = QuadraticDiscriminantAnalysis(store_covariance=True).fit(X.numpy(), y.numpy())
    p = fit_gaussian_classifier(X, y, "full", ddof=QDA_DDOF)
    torch.testing.assert_close(p.covariances, torch.tensor(np.stack(qda.covariance_)), rtol=0, atol=1e-10)
    torch.testing.assert_close(predict_log_proba(p, X), torch.tensor(qda.predict_log_proba(X.numpy())),
                               rtol=0, atol=1e-8)
    lda = LinearDiscriminantAnalysis(solver="lsqr").fit(X.numpy(), y.numpy())
    t = fit_gaussian_classifier(X, y, "tied")
    torch.testing.assert_close(t.covariances[1], torch.tensor(lda.covariance_), rtol=0, atol=1e-10)
    torch.testing.assert_close(predict_log_proba(t, X), torch.tensor(lda.predict_log_proba(X.numpy())),
                               rtol=0, atol=1e-8)


def test_ledoit_wolf_equals_sklearn():
    X, y = make_xy(n=60, d=6)
    for k in range(3):
        Xk = X[y == k]
        cov, alpha = ledoit_wolf(Xk.numpy())
        Xc = Xk - Xk.mean(0)
        assert abs(float(ledoit_wolf_shrinkage(Xc)) - alpha) < 1e-12
    p = fit_gaussian_classifier(X, y, "shrinkage")
    cov0, _ = ledoit_wolf(X[y == 0].numpy())
    torch.testing.assert_close(p.covariances[0], torch.tensor(cov0), rtol=0, atol=1e-10)
    fixed = fit_gaussian_classifier(X, y, "shrinkage", shrinkage=1.0)
    cov = fixed.covariances[2]
    torch.testing.assert_close(cov, torch.eye(6, dtype=F64) * cov.diagonal().mean(), rtol=0, atol=1e-12)


def test_ppca_covariance_and_dense_log_likelihood():
    X, y = make_xy(d=6)
    p = fit_gaussian_classifier(X, y, "ppca", q=2)
    m = ppca_mle(X[y == 1], 2)
    torch.testing.assert_close(p.covariances[1], m.W @ m.W.T + m.sigma2 * torch.eye(6, dtype=F64),
                               rtol=0, atol=1e-10)
    ref = torch.stack([torch.distributions.MultivariateNormal(p.means[k], p.covariances[k]).log_prob(X)
                       for k in range(3)], 1)
    torch.testing.assert_close(class_log_likelihood(p, X), ref, rtol=0, atol=1e-10)


def test_full_is_singular_with_few_samples_and_reg_fixes_it():
    X, y = make_xy(n=30, d=12)  # 5, 10, 15 points per class in 12 dimensions
    with pytest.raises(ValueError, match="singular"):
        fit_gaussian_classifier(X, y, "full")
    for cov in ("diag", "shrinkage", "ppca", "tied"):
        assert torch.isfinite(predict_log_proba(fit_gaussian_classifier(X, y, cov), X)).all()
    assert torch.isfinite(predict_log_proba(fit_gaussian_classifier(X, y, "full", reg=1e-3), X)).all()


def test_with_prior_changes_only_the_prior():
    X, y = make_xy()
    p = fit_gaussian_classifier(X, y, "full")
    new = torch.tensor([0.7, 0.2, 0.1], dtype=F64)
    q = with_prior(p, new)
    torch.testing.assert_close(q.log_prior.exp(), new)
    joint = class_log_likelihood(p, X) + new.log()
    torch.testing.assert_close(predict_log_proba(q, X), joint - joint.logsumexp(1, keepdim=True))
    p2 = fit_gaussian_classifier(X, y, "full", prior=new)
    torch.testing.assert_close(p2.log_prior, q.log_prior)


def test_sampling_moments():
    X, y = make_xy()
    p = fit_gaussian_classifier(X, y, "full")
    labels = torch.full((60_000,), 2)
    s = sample_class_conditional(p, labels, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(s.mean(0), p.means[2], rtol=0, atol=0.03)
    torch.testing.assert_close(torch.cov(s.T), p.covariances[2], rtol=0.03, atol=0.03)


def test_parameter_counts():
    assert n_covariance_parameters("full", 64) == 2080
    assert n_covariance_parameters("diag", 64) == 64
    assert n_covariance_parameters("ppca", 5, q=1) == 6


def test_bad_inputs():
    X, y = make_xy()
    p = fit_gaussian_classifier(X, y, "diag")
    cases = [
        (lambda: fit_gaussian_classifier(X[:, 0], y), "X"),
        (lambda: fit_gaussian_classifier(X.clone().fill_(float("nan")), y), "X"),
        (lambda: fit_gaussian_classifier(X, y.double()), "y"),
        (lambda: fit_gaussian_classifier(X, y[:-1]), "y"),
        (lambda: fit_gaussian_classifier(X[:-1], torch.cat([y[:-2], y[-1:]]) * 0 + 1, n_classes=3), "y"),
        (lambda: fit_gaussian_classifier(X, y, "spherical"), "covariance"),
        (lambda: fit_gaussian_classifier(X, y, reg=-1.0), "reg"),
        (lambda: fit_gaussian_classifier(X, y, ddof=2), "ddof"),
        (lambda: fit_gaussian_classifier(X, y, "shrinkage", shrinkage=2.0), "shrinkage"),
        (lambda: fit_gaussian_classifier(X, y, "ppca", q=0), "q"),
        (lambda: fit_gaussian_classifier(X, y, n_classes=1), "n_classes"),
        (lambda: fit_gaussian_classifier(X, y, prior=torch.ones(3)), "prior"),
        (lambda: class_log_likelihood(p, X[:, :2]), "X"),
        (lambda: class_log_likelihood((p.log_prior, p.means, p.scale_tril), X), "params"),
        (lambda: predict_log_proba(GaussianClassifierParams(p.log_prior[:2], p.means, p.scale_tril), X),
         "params"),
        (lambda: with_prior(p, torch.tensor([0.5, 0.5])), "prior"),
        (lambda: sample_class_conditional(p, torch.tensor([3])), "labels"),
        (lambda: ledoit_wolf_shrinkage(torch.ones(3)), "Xc"),
        (lambda: n_covariance_parameters("full", 0), "D"),
        (lambda: n_covariance_parameters("tiedd", 3), "covariance"),
    ]
    for fn, match in cases:
        with pytest.raises(ValueError, match=match):
            fn()
