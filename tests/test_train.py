import math

import pytest
import torch

from ppl_models.train import TrainHistory, iterate_minibatches, torch_step, train


def _linear_problem(n=256):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    return x, x @ w, w


def test_torch_module_recovers_least_squares():
    x, y, w = _linear_problem()
    net = torch.nn.Linear(3, 1, bias=False).double()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    step = torch_step(lambda xb, yb: ((net(xb).squeeze(-1) - yb) ** 2).mean(), opt)
    hist = train(step, (x, y), n_epochs=60, batch_size=32, progress=False)
    assert isinstance(hist, TrainHistory)
    assert len(hist.loss) == 60 and hist.steps == 60 * 8 and len(hist.step_loss) == hist.steps
    assert hist.loss[-1] < 1e-4 < hist.loss[0]
    assert torch.allclose(net.weight.detach().squeeze(), w, atol=1e-2)


def test_pyro_svi_step_trains_and_matches_conjugate_posterior():
    import pyro
    import pyro.distributions as dist
    from pyro.infer import SVI, Trace_ELBO
    from pyro.infer.autoguide import AutoNormal

    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    y = torch.randn(200, generator=torch.Generator().manual_seed(1)) + 3.0

    def model(yb):
        mu = pyro.sample("mu", dist.Normal(0.0, 10.0))
        with pyro.plate("data", 200, subsample_size=yb.shape[0]):
            pyro.sample("y", dist.Normal(mu, 1.0), obs=yb)

    guide = AutoNormal(model)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.05}), Trace_ELBO())
    hist = train(svi.step, y, n_epochs=400, batch_size=200, progress=False)
    post_mean = y.sum() / (200 + 1 / 100)  # conjugate normal posterior mean
    assert abs(guide.median()["mu"].item() - post_mean.item()) < 0.02  # posterior sd is 0.07
    assert hist.loss[-1] < hist.loss[0]


def test_eval_and_checkpoint_callbacks():
    x, y, _ = _linear_problem(64)
    net = torch.nn.Linear(3, 1).double()
    step = torch_step(lambda xb, yb: ((net(xb).squeeze(-1) - yb) ** 2).mean(),
                      torch.optim.SGD(net.parameters(), lr=0.01), clip_grad_norm=1.0)
    saved = []
    hist = train(step, (x, y), n_epochs=3, batch_size=16, eval_fn=lambda s: s * 10, eval_every=5,
                 checkpoint_fn=saved.append, checkpoint_every=4, progress=False)
    assert [s for s, _ in hist.evals] == [5, 10, 12] and hist.evals[0][1] == 50
    assert saved == [4, 8, 12, 12]


def test_transform_is_applied_per_batch():
    seen = []
    x = torch.arange(10.0).unsqueeze(1)
    train(lambda xb: seen.append(xb.clone()) or 0.0, x, n_epochs=1, batch_size=4,
          transform=lambda xb: xb * 0, progress=False)
    assert len(seen) == 3 and all((b == 0).all() for b in seen)


def test_nan_loss_stops_with_step_number():
    losses = iter([1.0, 0.5, math.nan, 0.1])
    with pytest.raises(FloatingPointError, match="step 3 \\(epoch 1\\)"):
        train(lambda xb: next(losses), torch.zeros(8, 1), n_epochs=1, batch_size=2, progress=False)


def test_minibatches_cover_data_once_and_are_seeded():
    x = torch.arange(10)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a = [b[0] for b in iterate_minibatches(x, 3, g1)]
    b = [b[0] for b in iterate_minibatches(x, 3, g2)]
    assert [len(t) for t in a] == [3, 3, 3, 1]
    assert sorted(torch.cat(a).tolist()) == list(range(10))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def test_train_bad_input():
    f = lambda xb: 0.0
    with pytest.raises(ValueError, match="n_epochs"):
        train(f, torch.zeros(4, 1), n_epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        train(f, torch.zeros(4, 1), n_epochs=1, batch_size=0)
    with pytest.raises(ValueError, match="rows"):
        train(f, (torch.zeros(4, 1), torch.zeros(3)), n_epochs=1)
    with pytest.raises(ValueError, match="NaN"):
        train(f, torch.tensor([[1.0], [float("nan")]]), n_epochs=1)
    with pytest.raises(ValueError, match="tensor"):
        train(f, [[1.0]], n_epochs=1)
    with pytest.raises(ValueError, match="eval_every"):
        train(f, torch.zeros(4, 1), n_epochs=1, eval_every=0)


def test_torch_step_rejects_non_scalar_loss():
    w = torch.zeros(2, requires_grad=True)
    step = torch_step(lambda: w * 2, torch.optim.SGD([w], lr=0.1))
    with pytest.raises(ValueError, match="scalar"):
        step()


def test_torch_step_runs_scheduler_and_after_step_once_per_step():
    w = torch.nn.Parameter(torch.tensor(1.0))
    opt = torch.optim.SGD([w], lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5 ** k)
    calls = []
    step = torch_step(lambda: (w - 3.0) ** 2, opt, clip_grad_norm=10.0, scheduler=sched,
                      after_step=lambda: calls.append(float(w.detach())))
    step()
    assert torch.isclose(w.detach(), torch.tensor(1.4))           # 1 - 0.1 * 2 * (1 - 3)
    assert calls == [pytest.approx(1.4)] and opt.param_groups[0]["lr"] == pytest.approx(0.05)
    step()
    assert len(calls) == 2 and opt.param_groups[0]["lr"] == pytest.approx(0.025)
