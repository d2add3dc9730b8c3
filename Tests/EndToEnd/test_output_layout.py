"""The HDF5 file read back with h5py: every documented dataset and attribute,
the decomposition tables, timings, the XDMF sidecar, and the atomic rename."""

import json
import shutil
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest

from conftest import REPO, heat_input


def test_layout_of_a_hybrid_run(run_miniapp):
    document = heat_input(time={"steps": 50}, output={"every": 20, "diagnostics_every": 10})
    run = run_miniapp(document, np=4, threads=2)
    assert run.returncode == 0, run.stderr
    ranks, threads, nx, ny = 4, 2, 67, 45
    with run.h5() as f:
        # Fields: snapshots at 0, 20, 40 and the final step 50.
        u = f["fields/u"]
        assert u.dtype == np.float64 and u.shape == (4, ny, nx)
        assert u.chunks is not None and u.maxshape[0] is None
        assert list(f["fields/step"][:]) == [0, 20, 40, 50]
        assert f["fields/step"].dtype == np.int64
        np.testing.assert_allclose(f["fields/time"][:], np.array([0, 20, 40, 50]) * f.attrs["dt"], rtol=1e-15)

        # Diagnostics: steps 0, 10, ..., 50.
        d = f["diagnostics"]
        for name in ["step", "time", "total", "min", "max", "l2_error", "linf_error"]:
            assert d[name].shape == (6,), name
        assert list(d["step"][:]) == [0, 10, 20, 30, 40, 50]
        final = u[-1]
        assert d["min"][-1] == final.min() and d["max"][-1] == final.max()

        # Timings: [ranks, phases] with names, [ranks, threads].
        names = [n.decode() for n in f["timings/phase_names"][:]]
        for required in ["halo_post", "halo_wait", "interior", "boundary", "reduction", "io", "total"]:
            assert required in names
        phases = f["timings/phases"][:]
        assert phases.shape == (ranks, len(names)) and (phases >= 0).all()
        total = phases[:, names.index("total")]
        assert (total > 0).all()
        assert f["timings/threads"].shape == (ranks, threads) and (f["timings/threads"][:] > 0).all()

        # Decomposition: 2 x 2 ranks; blocks tile the grid exactly once.
        coords, offsets, sizes = (f[f"decomposition/{k}"][:] for k in ["coords", "offsets", "sizes"])
        assert coords.shape == offsets.shape == sizes.shape == (ranks, 2)
        assert coords.dtype == np.int64
        covered = np.zeros((ny, nx), dtype=int)
        for (ox, oy), (sx, sy) in zip(offsets, sizes):
            covered[oy:oy + sy, ox:ox + sx] += 1
        assert (covered == 1).all()
        assert sorted(map(tuple, coords)) == [(0, 0), (0, 1), (1, 0), (1, 1)]
        assert sizes[:, 0].max() - sizes[:, 0].min() <= 1 and sizes[:, 1].max() - sizes[:, 1].min() <= 1
        assert len(f["decomposition/hostnames"][:]) == ranks and all(f["decomposition/hostnames"][:])
        assert len(f["decomposition/affinity"][:]) == ranks
        assert f["decomposition/thread_cpus"].shape == (ranks, threads)

        # Root attributes.
        a = f.attrs
        config = json.loads(a["input_json"])
        assert config["grid"] == {"nx": nx, "ny": ny, "lx": 2.0, "ly": 1.5}
        assert config["time"]["steps"] == 50 and config["time"]["dt"] is None
        assert a["ranks"] == ranks and a["threads"] == threads
        assert list(a["dims"]) == [2, 2] and list(a["periods"]) == [0, 0]
        # Text attributes are variable-length UTF-8: h5py gives str, as netCDF readers expect.
        assert all(isinstance(a[key], str) for key in ("input_json", "problem", "mpi_library", "version", "created"))
        assert "Open MPI" in a["mpi_library"]
        assert a["mpi_thread_level"] in ("MPI_THREAD_FUNNELED", "MPI_THREAD_SERIALIZED", "MPI_THREAD_MULTIPLE")
        assert a["version"] and a["created"] and a["kernel_vectors"]
        assert a["mlups"] > 0 and a["mlups_stepping"] >= a["mlups"]
        assert a["collective_field_writes"] == 1   # H5Pget_mpio_actual_io_mode said so for every snapshot

    # The XDMF sidecar references every snapshot of this file.
    sidecar = run.output.with_suffix(".xmf")
    root = ET.parse(sidecar).getroot()
    grids = root.findall(".//Grid[@GridType='Uniform']")
    assert len(grids) == 4
    assert [float(g.find("Time").get("Value")) for g in grids] == list(np.array([0, 20, 40, 50]) * run_dt(run))
    heavy = grids[-1].find(".//DataItem[@Format='HDF']")
    assert heavy.text.strip() == f"{run.output.name}:/fields/u"
    assert heavy.get("Dimensions") == f"4 {ny} {nx}"
    # No temporary file is left.
    assert not run.output.with_name(run.output.name + ".incomplete").exists()


def run_dt(run):
    with run.h5() as f:
        return f.attrs["dt"]


def test_layout_does_not_depend_on_the_rank_count(run_miniapp):
    shapes = []
    for np_ in [1, 3]:
        run = run_miniapp(heat_input(), np=np_, name=f"shape{np_}")
        assert run.returncode == 0, run.stderr
        with run.h5() as f:
            shapes.append({name: f[name].shape for name in ["fields/u", "fields/step", "diagnostics/total"]}
                          | {"chunks": f["fields/u"].chunks})
    assert shapes[0] == shapes[1]


def test_force_replaces_an_existing_output(run_miniapp, tmp_path):
    document = heat_input(output={"path": str(tmp_path / "same.h5")}, time={"steps": 5})
    first = run_miniapp(document, np=2)
    assert first.returncode == 0, first.stderr
    refused = run_miniapp(document, np=2)
    assert refused.returncode == 73 and "already exists" in refused.stderr
    document["time"]["steps"] = 7
    forced = run_miniapp(document, np=2, args=["--force"])
    assert forced.returncode == 0, forced.stderr
    with forced.h5() as f:
        assert f["fields/step"][-1] == 7


def test_collective_writes_are_whole_run_after_run(run_miniapp, tmp_path):
    """Open MPI 4.1's OMPIO (fcoll/vulcan) lost part of a collective write on
    a Cartesian communicator in about one run in three here (3 ranks,
    TeaLeaf's 10 x 10 problem: zeros in /fields/u; OMPI_MCA_fcoll=vulcan
    still shows it); miniapp selects ROMIO. Twelve runs must all write
    exactly what one rank writes."""
    deck = tmp_path / "tea.in"
    shutil.copy(REPO / "inputs/tea_bm_1.in", deck)
    reference = run_miniapp(deck, np=1, args=["--output", str(tmp_path / "one.h5")])
    assert reference.returncode == 0, reference.stderr
    with h5py.File(tmp_path / "one.h5") as f:
        expected = f["fields/u"][:].tobytes()
    for k in range(12):
        run = run_miniapp(deck, np=3, args=["--output", str(tmp_path / f"three{k}.h5")])
        assert run.returncode == 0, run.stderr
        with h5py.File(tmp_path / f"three{k}.h5") as f:
            assert f["fields/u"][:].tobytes() == expected, f"run {k}: the written field differs"


@pytest.mark.parametrize("problem", ["heat", "tealeaf"])
def test_xarray_opens_the_fields_with_dimensions_and_the_xdmf_resolves(run_miniapp, tmp_path, problem):
    """/fields is a netCDF-4 group: xarray (Debian's, through h5netcdf) gives u
    with named dimensions and coordinates, the same as the XDMF sidecar's
    geometry; the sidecar's every HDF5 path exists with the shape it says."""
    import xarray
    if problem == "heat":
        document = heat_input(grid={"nx": 24, "ny": 16, "lx": 2.0, "ly": 1.0}, time={"steps": 20},
                              output={"every": 10})
        run = run_miniapp(document, np=3)
        assert run.returncode == 0, run.stderr
        path = run.output
    else:
        deck = tmp_path / "bm1.in"
        shutil.copy(REPO / "inputs/tea_bm_1.in", deck)
        path = tmp_path / "bm1.h5"
        run = run_miniapp(deck, np=2, args=["--output", str(path), "--set", "output.every=5"])
        assert run.returncode == 0, run.stderr
    with xarray.open_dataset(path, group="fields", engine="h5netcdf") as fields:
        u = fields["u"]
        assert u.dims == ("time", "y", "x")
        assert u.attrs["long_name"] == "temperature" and u.attrs["units"] == "1"
        with h5py.File(path) as f:
            assert list(fields["time"].values) == list(f["fields/time"][:])
            assert list(fields["step"].values) == list(f["fields/step"][:])
            assert fields.sizes["x"] == f.attrs["nx"] and fields.sizes["y"] == f.attrs["ny"]
            for name in ("total", "min", "residual", "iterations"):
                if f"diagnostics/{name}" in f:
                    assert f[f"diagnostics/{name}"].attrs["long_name"] and f[f"diagnostics/{name}"].attrs["units"]
        if problem == "tealeaf":
            assert fields["density"].dims == ("y", "x")
    # The XDMF sidecar: its geometry is the coordinates, its paths resolve, its shapes are the datasets'.
    root = ET.parse(path.with_suffix(".xmf")).getroot()
    origin = [float(v) for v in root.find(".//Geometry/DataItem[1]").text.split()]
    spacing = [float(v) for v in root.findall(".//Geometry/DataItem")[1].text.split()]
    with xarray.open_dataset(path, group="fields", engine="h5netcdf") as fields:
        assert np.allclose(fields["x"].values, origin[-1] + spacing[-1] * np.arange(fields.sizes["x"]), rtol=0, atol=1e-12)
        assert np.allclose(fields["y"].values, origin[-2] + spacing[-2] * np.arange(fields.sizes["y"]), rtol=0, atol=1e-12)
    with h5py.File(path) as f:
        items = root.findall(".//DataItem[@Format='HDF']")
        assert items
        for item in items:
            file_name, dataset = item.text.strip().split(":")
            assert file_name == path.name and dataset in f, item.text
            dims = [int(d) for d in item.get("Dimensions").split()]
            assert dims == list(f[dataset].shape), (dataset, dims, f[dataset].shape)
