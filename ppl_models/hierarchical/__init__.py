"""Hierarchical models: eight schools in Pyro and NumPyro, with an exact quadrature reference."""

from .eight_schools import (
    EightSchools,
    FlatPrior,
    Prior,
    check_data,
    load_eight_schools,
    numpyro_log_joint,
    numpyro_model,
    pyro_log_joint,
    pyro_model,
)
from .exact import ExactPosterior, exact_posterior
from .inference import (
    CompiledNuts,
    TimedRun,
    compile_numpyro_nuts,
    fit_numpyro_svi,
    fit_pyro_svi,
    run_numpyro_nuts,
    run_pyro_nuts,
)

__all__ = [
    "EightSchools", "FlatPrior", "Prior", "check_data", "load_eight_schools", "numpyro_log_joint",
    "numpyro_model", "pyro_log_joint", "pyro_model", "ExactPosterior", "exact_posterior",
    "TimedRun", "CompiledNuts", "compile_numpyro_nuts", "fit_numpyro_svi", "fit_pyro_svi",
    "run_numpyro_nuts", "run_pyro_nuts",
]
