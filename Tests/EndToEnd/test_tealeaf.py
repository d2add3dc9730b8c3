"""TeaLeaf's implicit heat conduction against its published temperature sums,
reproducibility over ranks x threads, the solvers against CG, decks, and the
integration (reduction) benchmark."""

import json
import shutil

import numpy as np
import pytest

from conftest import REPO

pytestmark = pytest.mark.correctness

INPUTS = REPO / "inputs"
PUBLISHED = {1: 157.55084183279294, 2: 106.27221178646569}


def run_deck(run_miniapp, tmp_path, name, np=1, threads=1, args=(), stem=None):
    deck = tmp_path / (stem or name)
    shutil.copy(INPUTS / name, deck)
    run = run_miniapp(deck, np=np, threads=threads, args=["--output", str(deck.with_suffix(".h5")), *args], timeout=300)
    run.output = deck.with_suffix(".h5")
    return run


def test_tea_bm_1_matches_the_published_temperature(run_miniapp, tmp_path):
    run = run_deck(run_miniapp, tmp_path, "tea_bm_1.in")
    assert run.returncode == 0, run.stderr
    with run.h5() as f:
        u_sum = f.attrs["field_summary_temperature"]
        assert abs(u_sum - PUBLISHED[1]) / PUBLISHED[1] < 1e-9, u_sum
        assert f["summary/temperature"][-1] == u_sum
        # TeaLeaf's field summary at step 0: volume 100, mass 8401.6, energy 3.49, U 84.265.
        assert f["summary/volume"][0] == 100.0
        assert abs(f["summary/mass"][0] - 8401.6) < 1e-9 and abs(f["summary/energy"][0] - 3.49) < 1e-12
        assert abs(f["summary/temperature"][0] - 84.265) < 1e-12
        assert list(f["diagnostics/step"][:]) == list(range(1, 11))
        assert (f["diagnostics/converged"][:] == 1).all() and (f["diagnostics/residual"][:] < 1e-15).all()
        assert f["fields/u"].shape == (1, 10, 10) and f["fields/density"].shape == (10, 10)
        assert f.attrs["test_problem"] == 1 and f.attrs["temperature_relative_difference"] < 1e-9
    assert "PASSED" in run.stdout


# Energies 1e-60 and 1e60: the terms of the solver's dot products span more
# than 2^800 at once, wider than the window of live digits the first exact
# reduction sends across ranks (8 digits of 32 bits): it is made again with
# every digit, and the next ones send windows as wide as the spans found.
WIDE_SPAN = {
    "problem": "tealeaf",
    "grid": {"x_cells": 40, "y_cells": 40, "xmin": 0.0, "xmax": 10.0, "ymin": 0.0, "ymax": 10.0},
    "states": [{"density": 1.0, "energy": 1e-60},
               {"density": 1.0, "energy": 1e60, "geometry": "rectangle", "xmin": 2.0, "xmax": 5.0, "ymin": 3.0,
                "ymax": 6.0}],
    "time": {"initial_timestep": 0.004, "end_step": 3},
    "solver": {"method": "cg", "eps": 1e-12, "max_iters": 1000, "preconditioner": "none"},
    "output": {"path": "wide.h5", "every": 0, "summary_every": 1},
}


def test_sums_wider_than_the_window_are_reduced_again_and_keep_their_bits(run_miniapp):
    results = []
    for np_, threads in [(1, 1), (2, 1), (3, 1), (2, 2)]:
        run = run_miniapp(WIDE_SPAN, np=np_, threads=threads, name=f"wide-{np_}x{threads}")
        assert run.returncode == 0, run.stdout + run.stderr
        with run.h5() as f:
            assert f.attrs["exact_reductions"] > 30 and f.attrs["exact_reduction_widest_digits"] > 25
            assert 1 <= f.attrs["exact_reductions_retried"] <= 5
            results.append((f["fields/u"][:], f["diagnostics/iterations"][:], f["diagnostics/residual"][:],
                            f["summary/temperature"][:]))
    for other in results[1:]:
        for a, b in zip(other, results[0]):
            assert a.tobytes() == b.tobytes()


# Several ranks x threads; 250 x 250 divides evenly for none of 3, 6.
BM2_RUNS = [(1, 1), (2, 1), (1, 2), (3, 1), (4, 1), (2, 2)]


def test_tea_bm_2_matches_and_is_identical_for_every_decomposition(run_miniapp, tmp_path):
    results = []
    for np_, threads in BM2_RUNS:
        run = run_deck(run_miniapp, tmp_path, "tea_bm_2.in", np=np_, threads=threads, stem=f"bm2_{np_}x{threads}.in")
        assert run.returncode == 0, run.stderr
        with run.h5() as f:
            u_sum = f.attrs["field_summary_temperature"]
            assert abs(u_sum - PUBLISHED[2]) / PUBLISHED[2] < 1e-9, (np_, threads, u_sum)
            results.append((f["fields/u"][:], f["diagnostics/iterations"][:], f["diagnostics/residual"][:],
                            f["summary/temperature"][:], f.attrs["ranks"], f.attrs["threads"]))
            assert f["diagnostics/true_residual"][-1] < 1e-10
            # The spans grow as the residual falls (to 34 digits): few reductions outgrow their window.
            assert f.attrs["exact_reductions_retried"] < 0.02 * f.attrs["exact_reductions"]
    fields, iterations, residuals, sums, _, _ = results[0]
    for other in results[1:]:
        assert other[0].tobytes() == fields.tobytes(), f"field differs for {other[4]} x {other[5]}"
        assert (other[1] == iterations).all() and other[2].tobytes() == residuals.tobytes()
        assert other[3].tobytes() == sums.tobytes()


def test_deck_and_json_twin_give_the_same_bits(run_miniapp, tmp_path):
    deck = run_deck(run_miniapp, tmp_path, "tea_bm_1.in", np=2)
    document = json.loads((INPUTS / "tea_bm_1.json").read_text())
    document["output"]["path"] = str(tmp_path / "twin.h5")
    twin = run_miniapp(document, np=3, name="twin")
    assert deck.returncode == 0 and twin.returncode == 0, twin.stderr
    with deck.h5() as a, twin.h5() as b:
        assert a["fields/u"][:].tobytes() == b["fields/u"][:].tobytes()
        assert a.attrs["field_summary_temperature"] == b.attrs["field_summary_temperature"]
        assert json.loads(a.attrs["input_json"])["solver"] == json.loads(b.attrs["input_json"])["solver"]


def solver_input(method, preconditioner="none", halo_depth=1, eps=1e-12, cells=64):
    document = json.loads((INPUTS / "tea_bm_2.json").read_text())
    document["grid"]["x_cells"] = document["grid"]["y_cells"] = cells
    document["solver"].update({"method": method, "preconditioner": preconditioner, "halo_depth": halo_depth,
                               "eps": eps, "max_iters": 20000})
    document["verification"]["test_problem"] = None
    document["output"]["path"] = f"{method}_{preconditioner}_{halo_depth}.h5"
    return document


def test_solvers_agree_with_cg(run_miniapp):
    reference = run_miniapp(solver_input("cg"), np=2, name="cg")
    assert reference.returncode == 0, reference.stderr
    with reference.h5() as f:
        u_cg, sum_cg = f["fields/u"][-1], f.attrs["field_summary_temperature"]
    cases = [("cg", "jac_diag", 1, 1e-12, 1e-10), ("chebyshev", "none", 1, 1e-12, 1e-10),
             ("chebyshev", "jac_diag", 1, 1e-12, 1e-10), ("ppcg", "none", 1, 1e-12, 1e-10),
             ("ppcg", "jac_diag", 2, 1e-12, 1e-10), ("jacobi", "none", 1, 1e-10, 1e-8)]
    for method, preconditioner, depth, eps, tolerance in cases:
        run = run_miniapp(solver_input(method, preconditioner, depth, eps), np=2, name=f"{method}_{preconditioner}")
        assert run.returncode == 0, run.stderr
        with run.h5() as f:
            assert (f["diagnostics/converged"][:] == 1).all(), method
            difference = np.abs(f["fields/u"][-1] - u_cg).max() / np.abs(u_cg).max()
            assert difference < tolerance, (method, preconditioner, difference)
            assert abs(f.attrs["field_summary_temperature"] - sum_cg) / sum_cg < tolerance
            if method in ("chebyshev", "ppcg"):
                lo, hi = f.attrs["eigenvalue_estimates"]
                assert 0 < lo < hi
            if method == "ppcg":
                assert (f["diagnostics/inner_iterations"][:] > 0).all()


def test_deep_halos_change_messages_not_bits(run_miniapp):
    """PPCG with halo depth 1, 2, 4 on 1, 3 and 4 ranks: the same field, bit for bit."""
    fields = []
    for depth, np_, threads in [(1, 1, 1), (2, 3, 1), (4, 4, 1), (4, 2, 2)]:
        run = run_miniapp(solver_input("ppcg", halo_depth=depth), np=np_, threads=threads, name=f"deep{depth}_{np_}x{threads}")
        assert run.returncode == 0, run.stderr
        with run.h5() as f:
            fields.append(f["fields/u"][:])
            assert f.attrs["halo_depth"] == depth
    for other in fields[1:]:
        assert other.tobytes() == fields[0].tobytes()


def test_halo_deeper_than_a_block_is_refused(run_miniapp, tmp_path):
    run = run_miniapp(solver_input("ppcg", halo_depth=40), np=4, timeout=40)
    assert run.returncode == 65, run.stderr
    errors = run.errors()
    assert len(errors) == 1, run.stderr
    assert "solver.halo_depth 40 needs at least 40 cells per rank" in errors[0] and "32 x 32 cells" in errors[0], errors[0]
    assert not list(tmp_path.glob("*.h5*"))


@pytest.mark.parametrize("deck, words", [
    ("*tea\nstate 1 density=1 energy=1\ntl_use_gc\n*endtea\n", ["bad.in:3:1", "unknown keyword 'tl_use_gc'", "tl_use_cg"]),
    ("*tea\nstate 1 density=1 energy=1\nx_cells=1.5\n*endtea\n", ["bad.in:3:9", "x_cells", "integer"]),
    ("*tea\nstate 1 density=1 energy=1\nstate 1 density=2\n*endtea\n", ["bad.in:3:1", "defined twice"]),
    ("*tea\nstate 1 density=1 energy=1\nx_cells=10\n", ["without '*endtea'"]),
])
def test_malformed_decks_are_rejected_with_a_line_number(run_miniapp, tmp_path, deck, words):
    path = tmp_path / "bad.in"
    path.write_text(deck)
    run = run_miniapp(path, np=2, timeout=40)
    assert run.returncode == 65, run.stderr
    errors = run.errors()
    assert len(errors) == 1, run.stderr
    for word in words:
        assert word in errors[0], errors[0]
    assert not list(tmp_path.glob("*.h5*"))


def integrate(run_miniapp, n, np_=1, threads=1, name=None):
    run = run_miniapp({"problem": "integrate", "grid": {"n": n}, "repeat": 2,
                       "output": {"path": f"int_{n}_{np_}x{threads}.h5"}}, np=np_, threads=threads, name=name)
    assert run.returncode == 0, run.stderr
    with run.h5() as f:
        names = [s.decode() for s in f["results/integrand"][:]]
        timings = {key: f[f"results/{key}_seconds"][:] for key in ("compute", "reduction")}
        assert f["timings/phases"].shape[0] == np_ and f.attrs["problem"] == "integrate"
        return dict(zip(names, f["results/value"][:])), dict(zip(names, f["results/error"][:])), timings


def test_integration_converges_at_second_order_and_is_reproducible(run_miniapp):
    values, errors, _ = integrate(run_miniapp, 96)
    values2, errors2, _ = integrate(run_miniapp, 192)
    ratio = errors["sin(x)*sin(y)"] / errors2["sin(x)*sin(y)"]
    assert 3.9 < ratio < 4.1, ratio
    # sin(x+y) integrates to 0 and the midpoint sum is 0 up to round-off at any n.
    assert errors["sin(x+y)"] < 1e-14 and errors2["sin(x+y)"] < 1e-14
    for np_, threads in [(3, 1), (2, 2), (4, 1)]:
        other, _, timings = integrate(run_miniapp, 192, np_, threads)
        assert other == values2, (np_, threads)   # bitwise: float equality of every value
        assert (timings["compute"] > 0).all() and (timings["reduction"] > 0).all()
