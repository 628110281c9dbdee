"""The Newton vs gradient descent vs L-BFGS experiment (issue 16): registered for S003-34, and its quick
run's verdict re-derived from the measured values it returns."""

import math

from deepnotes.notes.experiments import get, names
from deepnotes.notes.result import SUPPORTS

from _notes import column, quick, verdict_of


def test_registered_for_the_quasi_newton_question():
    assert "newton_vs_gd_vs_lbfgs" in names()
    assert get("newton_vs_gd_vs_lbfgs").ids == ("S003-34",)


def test_quick_run_from_its_tables():
    r = quick("newton_vs_gd_vs_lbfgs")
    assert r.experiment == "newton_vs_gd_vs_lbfgs" and r.quick
    assert r.verdict == verdict_of(c.passed for c in r.checks)
    main, scaled, rosenbrock = r.tables
    methods = column(main, "method")
    iters = dict(zip(methods, column(main, "iterations to 1e-10")))
    order = dict(zip(methods, column(main, "convergence order")))
    sweeps = dict(zip(methods, column(main, "reverse sweeps to 1e-10")))
    newton, lbfgs, gd = "Newton (hessian)", "L-BFGS", "gradient descent 1/L"
    assert iters[newton] <= 10 < iters[lbfgs] and (iters[gd] == math.inf or iters[gd] > 10 * iters[lbfgs])
    assert order[newton] > 1.8 and order[gd] < 1.2  # quadratic against linear
    assert sweeps[newton] > sweeps[lbfgs]  # Newton's Hessians cost 65 sweeps each
    newton_row, gd_row = scaled.rows
    assert newton_row[2] - newton_row[1] <= 3 and gd_row[2] > 100 * gd_row[1]
    assert rosenbrock.rows[0][0] <= 30 and rosenbrock.rows[0][1] < 1e-20
    assert r.verdict == SUPPORTS
