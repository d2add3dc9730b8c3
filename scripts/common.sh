# Shared settings for the project's scripts (sourced, not run).

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian's Python sees Debian's python3-h5py, -numpy, -matplotlib, -pytest;
# the first python3 on PATH may be another installation that does not.
PYTHON=/usr/bin/python3

# Swift lives in /opt/swift on our machines.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="$PATH:/opt/swift/usr/bin"
fi

# Open MPI refuses to run as root unless told; more ranks than cores need
# oversubscription. Set here for our scripts only, never in a user's profile.
mpi_environment() {
    if [ "$(id -u)" = 0 ]; then
        export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    fi
    export OMPI_MCA_rmaps_base_oversubscribe=1
    # Waiting ranks yield their core instead of polling it: on a machine
    # with fewer cores than ranks x threads, polling starves the threads.
    export OMPI_MCA_mpi_yield_when_idle=1
}
