"""A deliberately wrong answer to every graded question of the assignments (tests/test_assignments.py).

Each entry is code run after the solutions notebook, replacing one answer by a plausible mistake that
the public tests accept and the hidden tests must reject.
"""

WRONG = {
    "00_probabilistic_programming": {
        "q1_noncentred_model": '''
def eight_schools_nc(sigma, y=None):   # tau with a half-normal instead of a half-Cauchy prior
    J = sigma.shape[0]
    mu = pyro.sample("mu", dist.Normal(sigma.new_zeros(()), 5.0))
    tau = pyro.sample("tau", dist.HalfNormal(5.0 * sigma.new_ones(())))
    with pyro.plate("school", J):
        tt = pyro.sample("theta_tilde", dist.Normal(sigma.new_zeros(()), 1.0))
        theta = pyro.deterministic("theta", mu + tau * tt)
        pyro.sample("y", dist.Normal(theta, sigma), obs=y)
''',
        "q2_mu_given_tau": '''
_right = mu_given_tau
def mu_given_tau(y, sigma, tau, m0=0.0, s0=5.0):   # forgets tau in the per-school variance
    return _right(y, sigma, 0.0, m0, s0)
''',
        "q3_tau_marginal": "tau_mean_normal = tau_mean_cauchy   # the unchanged prior's answer",
        "q4_rhat": '''
def split_rhat(draws):   # whole chains, not split: misses a trend
    x = np.asarray(draws, float)
    n = x.shape[1]
    W, Bn = x.var(axis=1, ddof=1).mean(), x.mean(axis=1).var(ddof=1)
    return float(np.sqrt(((n - 1) / n * W + Bn) / W))
''',
    },
    "01_generative_vs_discriminative": {
        "q1_naive_bayes_model": '''
def naive_bayes(X, y=None, K=10):   # a flat Beta(1, 1) prior instead of Beta(2, 2)
    N, D = X.shape
    pi = pyro.sample("pi", dist.Dirichlet(X.new_ones(K)))
    with pyro.plate("classes", K):
        theta = pyro.sample("theta", dist.Beta(X.new_ones(D), X.new_ones(D)).to_event(1))
    with pyro.plate("data", N):
        y = pyro.sample("y", dist.Categorical(pi), obs=y)
        pyro.sample("x", dist.Bernoulli(theta[y]).to_event(1), obs=X)
''',
        "q2_lda_log_odds": '''
_right = lda_log_odds
def lda_log_odds(means, cov, prior):   # drops the log prior ratio
    return _right(means, cov, torch.ones_like(prior))
max_gap = 0.0
''',
        "q3_bayes_error": '''
def bayes_error(means, cov, prior):   # the equal-prior formula Phi(-Delta / 2)
    diff = means[1] - means[0]
    return float(stats.norm.cdf(-0.5 * float(diff @ torch.linalg.solve(cov, diff)) ** 0.5))
''',
        "q4_calibration": '''
def confidence_gap(proba, y):   # accuracy minus confidence: the sign flipped
    conf, pred = proba.max(dim=1)
    return float((pred == y).double().mean() - conf.mean())
more_overconfident = "tied"
''',
    },
    "02_latent_variable_models": {
        "q1_enumerated_gmm": '''
def gmm_model(X, K):   # unit-variance prior on the means instead of 10^2
    N, D = X.shape
    weights = pyro.sample("weights", dist.Dirichlet(X.new_ones(K)))
    with pyro.plate("components", K):
        locs = pyro.sample("locs", dist.Normal(X.new_zeros(D), 1.0).to_event(1))
    with pyro.plate("data", N):
        z = pyro.sample("z", dist.Categorical(weights), infer={"enumerate": "parallel"})
        pyro.sample("x", dist.Normal(locs[z], 1.0).to_event(1), obs=X)
''',
        "q2_responsibilities": '''
def responsibilities(params, X):   # probability space: 0 / 0 far from every component
    p = gmm_component_log_prob(params, X).exp()
    return p / p.sum(-1, keepdim=True)
''',
        "q3_elbo_identity": '''
def elbo(q, X, params):   # forgets the entropy term
    return (q * gmm_component_log_prob(params, X)).sum()
''',
        "q4_model_selection": '''
def n_free_parameters(K, D, covariance):   # counts K free weights and a full D x D matrix
    return K + K * D + K * D * D
best_k = 6
''',
    },
    "03_hidden_markov_models": {
        "q1_stationary": '''
def stationary(trans):   # the right eigenvector (a column of ones), normalised
    vals, vecs = torch.linalg.eig(trans)
    v = vecs[:, torch.argmin((vals - 1).abs())].real
    return v / v.sum()
power_gap = 0.0
''',
        "q2_backward": '''
def log_backward(log_trans, log_lik):   # uses x_t instead of x_{t+1}
    betas = [torch.zeros_like(log_lik[-1])]
    for t in range(log_lik.shape[0] - 2, -1, -1):
        betas.append(torch.logsumexp(log_trans + log_lik[t] + betas[-1], dim=-1))
    return torch.stack(betas[::-1])
''',
        "q3_pyro_hmm": '''
def hmm_model(obs, init, trans, emit):   # forgets the dependence between neighbouring states
    for t in pyro.markov(range(len(obs))):
        z = pyro.sample(f"z_{t}", dist.Categorical(init), infer={"enumerate": "parallel"})
        pyro.sample(f"x_{t}", dist.Categorical(emit[z]), obs=obs[t])
''',
        "q4_decoding": '''
def decoding_report(log_init, log_trans, log_lik, threshold=0.9):   # filtered, not smoothed
    path = hmm_viterbi(log_init, log_trans, log_lik).path
    probs = hmm_smoother(log_init, log_trans, log_lik).filtered_probs
    return {"disagreements": int((path != probs.argmax(-1)).sum()),
            "uncertain": int((probs.max(-1).values < threshold).sum())}
''',
    },
    "04_variational_autoencoders": {
        "q1_elbo_gap": '''
def elbo_gap(x, m, v):   # KL in the wrong direction: KL(p(z|x) || q)
    return float(0.5 * (math.log(v / 0.5) + (0.5 + (x / 2 - m) ** 2) / v - 1.0))
mc_gap = elbo_gap(1.0, 0.0, 1.0)
''',
        "q2_iwae": '''
def iwae_bound(log_w):   # averages the log-weights: that is the ELBO, not the IWAE bound
    return log_w.mean(0)
''',
        "q3_vae_model_guide": '''
def vae_guide(x, encoder):   # treats the encoder's scale as a variance
    loc, scale = encoder(x)
    with pyro.plate("data", x.shape[0]):
        pyro.sample("z", dist.Normal(loc, scale.sqrt()).to_event(1))
''',
        "q4_active_units": '''
def kl_per_unit(loc, scale):   # forgets the log-variance term
    return 0.5 * (loc**2 + scale**2 - 1.0)
''',
    },
    "05_energy_based_models": {
        "q1_free_energy": '''
def free_energy(v, W, b, c):   # the sign of the hidden term flipped
    return -(v @ b) + F.softplus(v @ W + c).sum(-1)
brute_gap = 0.0
''',
        "q2_discretised_langevin": '''
def ula_stationary_variance(lam, sigma, k):   # the continuous-time answer T / k
    return float(sigma**2 / (2 * lam * k))
''',
        "q3_langevin_sampler": '''
def ula(grad_energy, x0, step, temperature, noise):   # noise scale sqrt(2 eps T) instead of sqrt(eps T)
    x = x0
    for xi in noise:
        x = x - 0.5 * step * grad_energy(x) + math.sqrt(2 * step * temperature) * xi
    return x
''',
        "q4_ais_ess": '''
def ess_fraction(log_w):   # exponentiates directly: 0 / 0 for log-weights around -1000
    w = torch.as_tensor(log_w, **F64).exp()
    return float(w.sum() ** 2 / (w.numel() * (w**2).sum()))
''',
    },
    "06_score_matching": {
        "q1_mixture_score": '''
def mixture_score(x, weights, means, s2, sigma):   # forgets the noise: variance s2, not s2 + sigma^2
    log_r = weights.log() - 0.5 * ((x[:, None, :] - means) ** 2).sum(-1) / s2
    r = torch.softmax(log_r, dim=-1)
    return (r[:, :, None] * (means - x[:, None, :])).sum(1) / s2
autograd_gap = 0.0
''',
        "q2_dsm_loss": '''
def dsm_loss(score_fn, x, sigma, noise):   # the target sign flipped: s ~ +noise / sigma
    s = score_fn(x + sigma * noise, sigma)
    return 0.5 * ((sigma * s - noise) ** 2).sum(-1).mean()
loss_true, loss_wrong = 0.8, 0.9
''',
        "q3_annealed_langevin": '''
def annealed_langevin_sample(score_fn, x, sigmas, eps, noise):   # no final denoising step
    sigma_last = float(sigmas[-1])
    nfe = 0
    for i, sigma in enumerate(sigmas.tolist()):
        alpha = eps * sigma**2 / sigma_last**2
        for xi in noise[i]:
            x = x + 0.5 * alpha * score_fn(x, sigma) + math.sqrt(alpha) * xi
            nfe += 1
    return x, nfe + 1
''',
        "q4_mode_weights": '''
recovers = {"single": True, "annealed": True}
''',
    },
    "07_diffusion_models": {
        "q1_forward_posterior": '''
def posterior(ab_prev, ab, x0, xk):   # uses beta_k itself as the variance
    alpha = ab / ab_prev
    beta = 1.0 - alpha
    mean = ab_prev.sqrt() * beta / (1 - ab) * x0 + alpha.sqrt() * (1 - ab_prev) / (1 - ab) * xk
    return mean, beta
conditioning_gap = 0.0
''',
        "q2_eps_loss": '''
def eps_loss(eps_fn, x0, t, noise, alpha_bar):   # mixes with alpha_bar instead of its square root
    ab = alpha_bar(t).view(-1, *[1] * (x0.ndim - 1))
    xt = ab * x0 + (1 - ab) * noise
    return ((eps_fn(xt, t) - noise) ** 2).flatten(1).sum(1).mean()
loss_optimal = 1.6
''',
        "q3_ddim_sampler": '''
def ddim(eps_fn, x_T, times, alpha_bar):   # re-noises with fresh noise (an ancestral step, not DDIM)
    x = x_T
    g = torch.Generator().manual_seed(0)
    for t, s in zip(times[:-1].tolist(), times[1:].tolist()):
        tt = torch.full((x.shape[0],), t, dtype=x.dtype)
        ab_t = alpha_bar(tt).view(-1, *[1] * (x.ndim - 1))
        ab_s = alpha_bar(torch.full_like(tt, s)).view(-1, *[1] * (x.ndim - 1))
        x0 = (x - (1 - ab_t).sqrt() * eps_fn(x, tt)) / ab_t.sqrt()
        x = ab_s.sqrt() * x0 + (1 - ab_s).sqrt() * torch.randn(x.shape, generator=g, dtype=x.dtype)
    return x, len(times) - 1
var_20 = 4.0
''',
        "q4_bits_per_dim": '''
def bits_per_dim(log_p_nats, D, levels=256, width=2.0):   # forgets the dequantisation offset
    return float(-log_p_nats / (D * math.log(2.0)))
bpd = {"A": bits_per_dim(1500.0, 784), "B": bits_per_dim(2000.0, 784, width=1.0)}
better = "B"
''',
    },
    "08_flow_matching": {
        "q1_gaussian_velocity": """
def gaussian_velocity(x, t, mean, var, sigma_min=0.0):   # forgets sigma_min in the slope d sigma / dt
    a = (1 - t)[:, None]
    s = sigma_min + (1 - sigma_min) * t[:, None]
    return -mean + (s - a * var) / (a**2 * var + s**2) * (x - a * mean)
""",
        "q2_cfm_loss": """
def cfm_loss(velocity_fn, x0, t, noise, path):   # averages over the dimensions instead of summing
    (a, s), (da, ds) = path.marginal(t), path.d_marginal(t)
    shape = (-1, *[1] * (x0.ndim - 1))
    a, s, da, ds = a.view(shape), s.view(shape), da.view(shape), ds.view(shape)
    return ((velocity_fn(a * x0 + s * noise, t) - da * x0 - ds * noise) ** 2).mean()
loss_exact = {k: float(cfm_loss(oracle2[k], x2, torch.full((n2,), tt, **F64), xi2, p))
              for k, (p, tt) in PATHS2.items()}
""",
        "q3_heun_sampler": """
def heun_sample(velocity_fn, x, times):   # evaluates the corrector at the old time t, not at s
    for t, s in zip(times[:-1].tolist(), times[1:].tolist()):
        h = s - t
        tt = torch.full((x.shape[0],), t, dtype=x.dtype)
        k1 = velocity_fn(x, tt)
        x = x + 0.5 * h * (k1 + velocity_fn(x + h * k1, tt))
    return x, 2 * (len(times) - 1)
grid_errors = {k: float((heun_sample(v3, z3, g)[0] - target3).norm(dim=1).mean())
               for k, g in (("uniform", grid_u), ("quadratic", grid_u**2))}
""",
        "q4_solver_orders": """
def empirical_order(nfes, errs):   # regresses log(error) on NFE itself, not on log(NFE)
    x = torch.as_tensor(nfes, **F64)
    y = torch.log(torch.as_tensor(errs, **F64))
    x, y = x - x.mean(), y - y.mean()
    return float(-(x * y).sum() / (x * x).sum())
orders = {m: empirical_order(NFES4, e) for m, e in errors3.items()}
""",
    },
    "09_gans_and_sample_quality": {
        "q1_weighted_discriminator": """
def optimal_logit(log_p, log_q, prior):   # the balanced answer: forgets the prior odds
    return log_p - log_q
def value_at_optimum(p, q, prior):   # the balanced formula -log 4 + 2 JSD, whatever the prior
    m = 0.5 * (p + q)
    kl = lambda a: float(torch.where(a > 0, a * torch.log(a / m), torch.zeros_like(a)).sum())
    return -math.log(4) + kl(p) + kl(q)
disjoint_value = value_at_optimum(p_d, q_d, 0.2)
""",
        "q2_gradient_penalty": """
def critic_loss(critic, real, fake, eps, lam=10.0):   # the penalty is not differentiable in the critic
    w = eps.view(-1, *[1] * (real.ndim - 1))
    x_hat = (w * real + (1 - w) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
    penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    return critic(fake).mean() - critic(real).mean() + lam * penalty
""",
        "q3_kernel_distance": """
def mmd2_cubic(fx, fy, unbiased=True):   # drops the diagonal but still divides by m^2 and n^2
    fx, fy = torch.as_tensor(fx, **F64), torch.as_tensor(fy, **F64)
    k = lambda a, b: ((a @ b.T) / fx.shape[1] + 1) ** 3
    kxx, kyy = k(fx, fx), k(fy, fy)
    if unbiased:
        kxx, kyy = kxx - torch.diag(kxx.diagonal()), kyy - torch.diag(kyy.diagonal())
    return float(kxx.mean() + kyy.mean() - 2 * k(fx, fy).mean())
u = torch.tensor([mmd2_cubic(a, b) for a, b in pairs3], **F64)
mean_unbiased, se_unbiased = float(u.mean()), float(u.std() / math.sqrt(len(u)))
""",
        "q4_fd_extrapolation": """
def fd_infinity(ns, fds):   # takes the FD at the largest n as the limit
    return float(fds[int(np.argmax(ns))])
fd_inf = {k: fd_infinity(NS4, fds_n[k]) for k in feats4}
better = min(fd_inf, key=fd_inf.get)
""",
    },
    "10_autoregressive_models": {
        "q1_sequence_log_prob": """
def sequence_log_prob(net, x, start):   # no shift: position t reads x_t itself
    return torch.log_softmax(net(x), dim=-1).gather(-1, x[..., None]).squeeze(-1).sum(1)
with torch.no_grad():
    total_prob = float(sequence_log_prob(net1, x_all1, K1).exp().sum())
""",
        "q2_gaussian_chain_rule": """
def gaussian_conditionals(mean, cov, order):   # marginal variances instead of conditional ones
    d = mean.shape[0]
    W, b = torch.zeros(d, d, **F64), torch.zeros(d, **F64)
    for r in range(1, d):
        i, prev = order[r], order[:r]
        W[r, :r] = torch.linalg.solve(cov[prev][:, prev], cov[prev, i])
    b = mean[order] - W @ mean[order]
    return W, b, cov.diagonal()[order].clone()
""",
        "q3_ancestral_sampler": """
def ar_sample(logits_fn, order, u):   # samples in raster order, not in the model's ordering
    x = torch.zeros_like(u)
    with torch.no_grad():
        for i in range(u.shape[1]):
            x[:, i] = (u[:, i] < torch.sigmoid(logits_fn(x)[:, i])).to(x.dtype)
    return x, len(order)
samples3, nfe3 = ar_sample(made3, order3, u3)
index = (samples3 @ (2.0 ** torch.arange(4, -1, -1, **F64))).long()
tv3 = float(0.5 * (torch.bincount(index, minlength=32).double() / len(samples3) - p3).abs().sum())
""",
        "q4_dependency_check": """
def n_violations(dep, order):   # only counts later pixels: misses a pixel that sees itself
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order))
    return int((dep & (rank[None, :] > rank[:, None])).sum())
valid = {k: n_violations(dependency_matrix(net, x4), o) == 0 for k, (net, o) in suspects4.items()}
""",
    },
    "11_comparing_generative_models": {
        "q1_bmm_em": """
def em_step(x, weights, probs, c):   # normalises the pixel update by N_k + c instead of N_k + 2c
    log_1m = torch.log1p(-probs)
    log_joint = weights.log() + x @ (probs.log() - log_1m).T + log_1m.sum(1)
    log_px = torch.logsumexp(log_joint, 1)
    resp = torch.exp(log_joint - log_px[:, None])
    nk = resp.sum(0)
    objective = float(log_px.mean() + c * (probs.log() + log_1m).sum() / x.shape[0])
    return nk / x.shape[0], (resp.T @ x + c) / (nk[:, None] + c), objective
""",
        "q2_bound_directions": """
def expected_log_mean_weight(log_w, log_q, k):   # log E[w]: the log taken outside the expectation
    return float(torch.logsumexp(log_q + log_w, 0))
""",
        "q3_authenticity": """
def authenticity(samples, train):   # the nearest "other" training image is the image itself, at distance 0
    h = hamming_to(samples, train)
    nearest = h.argmin(1)
    loo = hamming_to(train, train).min(1).values
    return float((h.gather(1, nearest[:, None]).squeeze(1) > loo[nearest]).double().mean())
""",
        "q4_reading_the_table": """
def certified_better(a, b, z=2.0):   # reads every NLL as exact: compares intervals whatever the kind
    if a.nll is None or b.nll is None:
        return False
    sa, sb = a.nll_se or 0.0, b.nll_se or 0.0
    return bool(a.nll + z * sa < b.nll - z * sb)
""",
    },
}
