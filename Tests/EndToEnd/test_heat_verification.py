"""The explicit heat solver against the exact solution of the discrete scheme,
bitwise reproducibility over ranks x threads, conservation, and convergence."""

import json

import numpy as np
import pytest

from conftest import exact_sine, heat_input

pytestmark = pytest.mark.correctness

# (ranks, threads) from the issue; the 67 x 45 grid divides evenly for none.
COMBINATIONS = [(1, 1), (2, 1), (1, 2), (3, 1), (4, 2), (6, 1)]


def assert_matches_exact(run):
    with run.h5() as f:
        u = f["fields/u"][:]
        exact, _ = exact_sine(f)
        assert u.shape == exact.shape
        relative = np.abs(u - exact).max() / np.abs(exact).max()
        assert relative < 1e-12, f"max relative difference {relative:.3e}"
        # The solver's own error diagnostic agrees: round-off level.
        assert np.all(f["diagnostics/linf_error"][:] < 1e-12 * np.abs(exact).max())


def read_all(run):
    with run.h5() as f:
        fields = f["fields/u"][:]
        diagnostics = {name: f["diagnostics"][name][:] for name in f["diagnostics"]}
    return fields, diagnostics


def assert_bitwise_identical(runs):
    reference_fields, reference_diagnostics = read_all(runs[0])
    for run in runs[1:]:
        fields, diagnostics = read_all(run)
        assert fields.tobytes() == reference_fields.tobytes(), f"/fields/u differs ({run.output.name})"
        assert diagnostics.keys() == reference_diagnostics.keys()
        for name, values in diagnostics.items():
            assert values.tobytes() == reference_diagnostics[name].tobytes(), f"/diagnostics/{name} differs"


def test_sine_mode_matches_exact_discrete_solution_and_is_bitwise_identical(run_miniapp):
    runs = []
    for np_, threads in COMBINATIONS:
        run = run_miniapp(heat_input(), np=np_, threads=threads, name=f"sine_{np_}x{threads}")
        assert run.returncode == 0, run.stderr
        assert_matches_exact(run)
        runs.append(run)
    with runs[-1].h5() as f:
        assert list(f.attrs["dims"]) == [3, 2] and f.attrs["ranks"] == 6
    assert_bitwise_identical(runs)


def test_periodic_axis_held_by_one_rank(run_miniapp):
    """x periodic (even mode: an exact solution exists), y Dirichlet; with
    dims 1 x 2 a single rank spans the periodic axis and exchanges with itself."""
    document = heat_input(boundary={"x": "periodic"}, initial={"type": "sine", "modes": [2, 1], "amplitude": 1.5})
    runs = []
    for np_, threads, dims in [(1, 1, "0x0"), (2, 1, "1x2"), (2, 2, "2x1"), (6, 1, "3x2")]:
        run = run_miniapp(document, np=np_, threads=threads, args=["--dims", dims], name=f"px_{np_}_{dims}")
        assert run.returncode == 0, run.stderr
        with run.h5() as f:
            assert list(f.attrs["periods"]) == [1, 0]
        assert_matches_exact(run)
        runs.append(run)
    assert_bitwise_identical(runs)


def test_periodic_run_conserves_total_heat_and_is_bitwise_identical(run_miniapp):
    document = heat_input(boundary={"x": "periodic", "y": "periodic"},
                          initial={"type": "gaussian", "center": [0.7, 0.5], "width": 0.2, "amplitude": 2.0},
                          time={"steps": 300}, output={"every": 100, "diagnostics_every": 25})
    runs = []
    for np_, threads in [(1, 1), (4, 2), (3, 1), (2, 1)]:
        run = run_miniapp(document, np=np_, threads=threads, name=f"periodic_{np_}x{threads}")
        assert run.returncode == 0, run.stderr
        runs.append(run)
    with runs[0].h5() as f:
        total = f["diagnostics/total"][:]
        hx, hy = f.attrs["hx"], f.attrs["hy"]
        u = f["fields/u"][:]
        assert len(total) == 300 // 25 + 1
        assert np.abs(total - total[0]).max() <= 1e-13 * abs(total[0]), total - total[0]
        # The field did evolve (this is not conservation by standing still).
        assert np.abs(u[-1] - u[0]).max() > 0.1
        # The reported total is the field's sum (numpy sums in another order).
        assert abs(u[-1].sum() * hx * hy - total[-1]) < 1e-12 * abs(total[-1])
        assert np.isnan(f["diagnostics/l2_error"][:]).all()  # no exact solution for a gaussian
    assert_bitwise_identical(runs)


def test_constant_state_is_steady_to_the_last_bit(run_miniapp):
    document = heat_input(boundary={"value": 3.25}, initial={"type": "constant", "amplitude": 3.25})
    run = run_miniapp(document, np=3, threads=2)
    assert run.returncode == 0, run.stderr
    with run.h5() as f:
        assert (f["fields/u"][:] == 3.25).all()
        assert (f["diagnostics/l2_error"][:] == 0).all()


def test_second_order_convergence_to_the_pde_solution(run_miniapp):
    """Sine mode (1, 1), fixed end time 1/64, dt = h^2/8: the error against the
    PDE's exp(-2 pi^2 t) decay falls by 4 when h halves."""
    errors = []
    for n in [15, 31, 63]:
        h = 1.0 / (n + 1)
        dt = h * h / 8
        steps = round((1 / 64) / dt)
        document = heat_input(grid={"nx": n, "ny": n, "lx": 1.0, "ly": 1.0}, physics={"alpha": 1.0},
                              time={"steps": steps, "dt": dt}, initial={"type": "sine", "modes": [1, 1], "amplitude": 1.0},
                              output={"every": 0, "diagnostics_every": 0})
        run = run_miniapp(document, np=2, threads=1, name=f"conv{n}")
        assert run.returncode == 0, run.stderr
        with run.h5() as f:
            reported = f["diagnostics/l2_error_continuum"][-1]
            # Recompute independently from the final field.
            u = f["fields/u"][-1]
            x = (np.arange(n) + 1) * h
            time = f["fields/time"][-1]
            pde = np.exp(-2 * np.pi**2 * time) * np.outer(np.sin(np.pi * x), np.sin(np.pi * x))
            mine = np.sqrt(h * h * ((u - pde) ** 2).sum())
            assert abs(mine - reported) < 1e-9 * mine
            errors.append(reported)
    ratios = [errors[k] / errors[k + 1] for k in range(2)]
    assert all(3.6 < r < 4.4 for r in ratios), (errors, ratios)
