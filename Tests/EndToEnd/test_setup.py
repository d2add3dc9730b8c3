"""Building where the users build: scripts/configure finds the MPI wrapper
and the parallel HDF5 that goes with it, or says in one message what does
not fit; scripts/setup builds and runs the example as a normal user on a
system without dpkg and apt, and says what to install when something is
missing. These run Debian's real packages of both MPI families and its serial
HDF5 (scripts/setup --with-test-tools installs them)."""

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

DEBIAN_HDF5 = Path("/usr/lib/x86_64-linux-gnu/hdf5")   # one prefix (include/, lib/) per flavour


def configure(tmp_path, env=None, path=None):
    """scripts/configure from a copy of the scripts, so that what it writes goes to tmp_path."""
    (tmp_path / "scripts").mkdir(exist_ok=True)
    shutil.copy(REPO / "scripts/configure", tmp_path / "scripts/configure")
    environment = {k: v for k, v in os.environ.items() if k not in ("MPICC", "HDF5_DIR", "HDF5_ROOT")}
    if path is not None:
        environment["PATH"] = path
    return subprocess.run([str(tmp_path / "scripts/configure")], capture_output=True, text=True, timeout=120,
                          env={**environment, **(env or {})})


def errors(result):
    return [line for line in result.stderr.splitlines() if line.startswith("configure: error:")]


def bin_without(directory, *names):
    """A PATH of links to /usr/bin and /bin in `directory`, less the commands
    that match `names` (prefixes): a system where those are not installed."""
    farm = Path(directory) / f"bin-without-{'-'.join(names)}"
    farm.mkdir(mode=0o755)
    for directory in ("/usr/bin", "/bin"):
        for entry in Path(directory).iterdir():
            if not entry.name.startswith(names) and not (farm / entry.name).exists():
                (farm / entry.name).symlink_to(entry)
    return str(farm)


def needs(*paths):
    missing = [p for p in paths if not Path(p).exists()]
    return pytest.mark.skipif(bool(missing), reason=f"needs Debian's {', '.join(map(str, missing))}")


@needs("/usr/bin/mpicc.mpich", "/usr/bin/h5pcc.mpich")
def test_mpicc_mpich_finds_debians_mpich_hdf5_with_nothing_else_set(tmp_path):
    result = configure(tmp_path, {"MPICC": "mpicc.mpich"})
    assert result.returncode == 0, result.stderr
    build = Path(result.stdout.strip().splitlines()[-1])
    assert build == tmp_path / ".build-mpich"
    assert "MPICH 4" in result.stderr and "/usr/lib/x86_64-linux-gnu/hdf5/mpich" in result.stderr
    assert "launch  /usr/bin/mpiexec.mpich" in result.stderr
    environment = (build / "config/build.env").read_text()
    assert "MINIAPP_MPI_FAMILY=mpich" in environment
    mpi = (build / "config/pkgconfig/miniapp-mpi.pc").read_text()
    assert "-I/usr/include/x86_64-linux-gnu/mpich" in mpi and "-lmpich" in mpi
    assert "-I/usr/include/hdf5/mpich" in (build / "config/pkgconfig/miniapp-hdf5.pc").read_text()


def test_the_default_is_mpicc_first_on_path(tmp_path):
    result = configure(tmp_path)
    assert result.returncode == 0, result.stderr
    wrapper = shutil.which("mpicc")
    assert f"({wrapper})" in result.stderr


@needs(DEBIAN_HDF5 / "openmpi")
def test_hdf5_dir_names_the_prefix(tmp_path):
    result = configure(tmp_path, {"MPICC": "mpicc.openmpi", "HDF5_DIR": str(DEBIAN_HDF5 / "openmpi")})
    assert result.returncode == 0, result.stderr
    assert f"at {DEBIAN_HDF5 / 'openmpi'}/lib (HDF5_DIR)" in result.stderr


BAD = {
    "an MPICC that does not exist": ({"MPICC": "/opt/nowhere/bin/mpicc"}, None,
                                     ["MPICC names '/opt/nowhere/bin/mpicc', which is not an executable here"]),
    "a wrapper that is not MPI": ({"MPICC": "gcc"}, None, ["cannot compile a file that includes <mpi.h>"]),
    "a serial HDF5": ({"MPICC": "mpicc.openmpi", "HDF5_DIR": str(DEBIAN_HDF5 / "serial")}, None,
                      ["is not a parallel HDF5 for Open MPI", "serial (built without MPI"]),
    "HDF5 of the other MPI": ({"MPICC": "mpicc.mpich", "HDF5_DIR": str(DEBIAN_HDF5 / "openmpi")}, None,
                              ["is not a parallel HDF5 for MPICH", "built for another MPI: it loads libmpi.so.40",
                               "(libmpich.so.12)"]),
}


@pytest.mark.parametrize("case", BAD.keys())
def test_what_does_not_fit_is_one_message_at_configure_time(tmp_path, case):
    env, path, words = BAD[case]
    result = configure(tmp_path, env, path)
    assert result.returncode == 78, result.stderr
    assert len(errors(result)) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert not list(tmp_path.glob(".build-*")), "a failed configure wrote a configuration"


def test_no_mpicc_on_path(tmp_path):
    result = configure(tmp_path, path=bin_without(tmp_path, "mpi", "h5pcc"))
    assert result.returncode == 78 and len(errors(result)) == 1, result.stderr
    assert "MPICC is not set and there is no mpicc on PATH" in result.stderr and "module load" in result.stderr


@needs("/usr/bin/mpicc.mpich")
def test_a_wrapper_whose_mpi_has_no_hdf5(tmp_path):
    """A site's MPICH wrapper (a script that calls MPICH's) with only Open MPI's HDF5 to be found."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "mpicc").write_text("#!/bin/sh\nexec /usr/bin/mpicc.mpich \"$@\"\n")
    (site / "mpicc").chmod(0o755)
    pkgconfig = tmp_path / "pkgconfig"
    pkgconfig.mkdir()
    for name in ("hdf5-openmpi.pc", "ompi.pc", "orte.pc"):
        (pkgconfig / name).symlink_to(Path("/usr/lib/x86_64-linux-gnu/pkgconfig") / name)
    path = f"{site}:{bin_without(tmp_path, 'mpi', 'h5pcc.mpich')}"
    result = configure(tmp_path, {"PKG_CONFIG_LIBDIR": str(pkgconfig)}, path)
    assert result.returncode == 78 and len(errors(result)) == 1, result.stderr
    assert "no parallel HDF5 built for MPICH" in result.stderr
    assert "built for another MPI: it loads libmpi.so.40" in result.stderr
    assert "spack install hdf5+mpi ^mpich" in result.stderr


# MARK: scripts/setup as a normal user

USER = "miniapp-tester"


@pytest.fixture(scope="module")
def normal_user(tmp_path_factory):
    """A normal user with a copy of the working tree (what git tracks and what it
    would add) in a home of its own; removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("making a second user needs root (CI runs as root)")
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/bash", USER], capture_output=True)
    account = pwd.getpwnam(USER)
    home = Path(subprocess.run(["mktemp", "-d", "/tmp/miniapp-home.XXXXXX"], capture_output=True, text=True,
                               check=True).stdout.strip())
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    tree = home / "miniapp"
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name)
    # The Swift package mirror of these machines belongs to root; git refuses such a repository to
    # others unless told (on a cluster the packages come from GitHub).
    (home / ".gitconfig").write_text("[safe]\n\tdirectory = *\n")
    subprocess.run(["chown", "-R", f"{account.pw_uid}:{account.pw_gid}", str(home)], check=True)
    yield account, home, tree
    shutil.rmtree(home, ignore_errors=True)
    subprocess.run(["userdel", USER], capture_output=True)


def as_user(account, home, tree, path, timeout=900):
    environment = {"HOME": str(home), "PATH": path, "LANG": "C.UTF-8"}
    return subprocess.run(["runuser", "-u", account.pw_name, "--", "env", "-i",
                           *[f"{k}={v}" for k, v in environment.items()], "scripts/setup"],
                          capture_output=True, text=True, cwd=tree, timeout=timeout)


def test_setup_as_a_normal_user_without_dpkg_or_apt(normal_user):
    """Everything is on the paths (as modules would put it): no root, no package manager."""
    account, home, tree = normal_user
    path = bin_without(home, "dpkg", "apt")
    result = as_user(account, home, tree, path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "installing" not in result.stdout and "sudo" not in result.stdout + result.stderr
    assert "setup: built ./miniapp (miniapp 0.1.0 (Open MPI" in result.stdout, result.stdout
    assert "Done: 500 steps" in result.stdout and "L2 error 3.766e-16" in result.stdout
    assert (tree / "heat.h5").stat().st_uid == account.pw_uid


def test_setup_says_what_to_install_with_apt(normal_user):
    account, home, tree = normal_user
    result = as_user(account, home, tree, bin_without(home, "mpi", "h5pcc"))
    assert result.returncode == 78, result.stdout + result.stderr
    assert "sudo apt-get install -y libopenmpi-dev openmpi-bin libhdf5-openmpi-dev" in result.stderr


def test_setup_says_what_to_load_without_a_package_manager(normal_user):
    account, home, tree = normal_user
    result = as_user(account, home, tree, bin_without(home, "mpi", "h5pcc", "dpkg", "apt", "dnf", "yum"))
    assert result.returncode == 78, result.stdout + result.stderr
    assert "apt-get" not in result.stderr
    assert "module load" in result.stderr and "spack install hdf5+mpi ^openmpi" in result.stderr
