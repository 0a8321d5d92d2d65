"""Bad inputs to ppl_models.flows raise ValueError naming the argument."""

import pytest
import torch

from ppl_models import flows
from ppl_models.exact2d import eight_gaussians
from ppl_models.nets import TimeMLP

X = torch.randn(8, 2)
T = torch.rand(8)
GM = eight_gaussians()


def v(x, t):
    return -x


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: flows.CondOTPath(sigma_min=1.0), "sigma_min"),
        (lambda: flows.CondOTPath(sigma_min=-0.1), "sigma_min"),
        (lambda: flows.VPPath(sde="linear"), "sde"),
        (lambda: flows.sample_path("straight", X, T, X), "path"),
        (lambda: flows.sample_path(flows.CondOTPath(), X, T[:3], X), "t"),
        (lambda: flows.sample_path(flows.CondOTPath(), X, T + 2, X), "t"),
        (lambda: flows.sample_path(flows.CondOTPath(), X, T, X[:4]), "noise"),
        (lambda: flows.sample_path(flows.CondOTPath(), X * float("nan"), T, X), "x0"),
        (lambda: flows.sample_path(flows.CondOTPath(), X.long(), T, X), "x0"),
        (lambda: flows.velocity_from_eps("eps", flows.CondOTPath()), "eps_fn"),
        (lambda: flows.eps_from_velocity(None, flows.CondOTPath()), "velocity_fn"),
        (lambda: flows.x0_from_velocity(3, flows.CondOTPath()), "velocity_fn"),
        (lambda: flows.marginal_velocity_gmm("gmm", flows.CondOTPath()), "gmm"),
        (lambda: flows.marginal_velocity_gmm(GM, flows.CondOTPath())(X.double(), T.double() * 0), "sigma"),
        (lambda: flows.cfm_loss("net", X, flows.CondOTPath()), "velocity_fn"),
        (lambda: flows.cfm_loss(v, X, flows.CondOTPath(), t_min=1.0), "t_min"),
        (lambda: flows.cfm_loss(v, X, flows.CondOTPath(), noise=X[:2]), "noise"),
        (lambda: flows.cfm_loss(v, X, flows.CondOTPath(), generator=1), "generator"),
        (lambda: flows.cfm_loss(lambda x, t: x[:, :1], X, flows.CondOTPath()), "velocity_fn"),
        (lambda: flows.ot_coupling(X, X[:5]), "noise"),
        (lambda: flows.ot_coupling(X[0], X[0]), "x0"),
        (lambda: flows.solve(v, X, method="rk45"), "method"),
        (lambda: flows.solve(v, X, steps=0), "steps"),
        (lambda: flows.solve(v, X, t0=0.5, t1=0.5), "t0 and t1"),
        (lambda: flows.solve(v, X, t0=1.5), "t0"),
        (lambda: flows.solve(v, X, method="adaptive", return_path=True), "return_path"),
        (lambda: flows.solve("v", X), "velocity_fn"),
        (lambda: flows.solve(lambda x, t: x[:, :1], X, steps=2), "velocity_fn"),
        (lambda: flows.sample(v, X, nfe=3, method="midpoint"), "nfe"),
        (lambda: flows.sample(v, X, nfe=2, steps=2), "nfe"),
        (lambda: flows.sample(v, X, nfe=2, method="adaptive"), "adaptive"),
        (lambda: flows.evals_per_step("adaptive"), "method"),
        (lambda: flows.log_likelihood(v, X, divergence="trace"), "divergence"),
        (lambda: flows.log_likelihood(v, X, method="midpoint"), "method"),
        (lambda: flows.log_likelihood(v, X, t_min=0.5, t_max=0.2), "t_max"),
        (lambda: flows.log_likelihood(v, X, prior_log_prob="normal"), "prior_log_prob"),
        (lambda: flows.log_likelihood(v, X, prior_log_prob=lambda z: z, steps=1), "prior_log_prob"),
        (lambda: flows.straightness(v, X, steps=0), "steps"),
        (lambda: flows.reflow_pairs(v, X, batch_size=0), "batch_size"),
        (lambda: flows.TwoMoons(noise=0.0), "noise"),
        (lambda: flows.TwoMoons(n_nodes=1), "n_nodes"),
        (lambda: flows.TwoMoons().log_prob(torch.randn(4, 3)), "x"),
        (lambda: flows.Checkerboard(noise=-1.0), "noise"),
        (lambda: flows.Checkerboard().sample(0), "n"),
        (lambda: flows.Checkerboard().contains(torch.randn(4, 3)), "x"),
        (lambda: flows.Checkerboard().contains(torch.tensor([[0.5, float("nan")]])), "x"),
        (lambda: flows.FlowConfig(n_epochs=0), "n_epochs"),
        (lambda: flows.FlowConfig(lr=0.0), "lr"),
        (lambda: flows.FlowConfig(coupling="sinkhorn"), "coupling"),
        (lambda: flows.FlowConfig(t_min=1.0), "t_min"),
        (lambda: flows.train_flow("net", X, flows.CondOTPath(), flows.FlowConfig()), "net"),
        (lambda: flows.train_flow(TimeMLP(2, (4,)), X, flows.CondOTPath(), {}), "cfg"),
        (lambda: flows.train_flow(TimeMLP(2, (4,)), X.long(), flows.CondOTPath(), flows.FlowConfig()), "x"),
        (lambda: flows.train_flow(TimeMLP(2, (4,)), X, flows.CondOTPath(), flows.FlowConfig(), noise=X[:3]),
         "noise"),
        (lambda: flows.train_flow(TimeMLP(2, (4,)), X, flows.CondOTPath(), flows.FlowConfig(), noise=X,
                                  source=lambda n, g: X), "source"),
        (lambda: flows.train_flow(TimeMLP(2, (4,)), X, flows.CondOTPath(), flows.FlowConfig(coupling="ot"),
                                  noise=X), "coupling"),
        (lambda: flows.train_flow(TimeMLP(2, (4,)), X, flows.CondOTPath(), flows.FlowConfig(),
                                  y=torch.zeros(8, dtype=torch.long)), "null_index"),
        (lambda: flows.train_flow(TimeMLP(2, (4,)), X, flows.CondOTPath(), flows.FlowConfig(n_epochs=1),
                                  source=lambda n, g: torch.randn(n, 3), progress=False), "source"),
    ],
)
def test_bad_inputs_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
