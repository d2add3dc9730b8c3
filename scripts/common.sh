# Shared settings for the project's scripts (sourced, not run).

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian's Python sees Debian's python3-h5py, -numpy, -matplotlib, -pytest;
# the first python3 on PATH may be another installation that does not.
PYTHON=/usr/bin/python3

# Swift lives in /opt/swift on our machines.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="$PATH:/opt/swift/usr/bin"
fi

# configure_build: scripts/configure for the MPI that MPICC (else mpicc)
# names, then its build.env: MINIAPP_BUILD_DIR, MINIAPP_MPI_NAME, ... and
# the PKG_CONFIG_PATH and MINIAPP_RPATH that the Swift build reads.
configure_build() {
    local build
    build=$("$REPO_ROOT/scripts/configure") || exit $?
    # shellcheck disable=SC1091
    source "$build/config/build.env"
}

# swift_in_build COMMAND [ARGS]: `swift COMMAND` in the configured build
# directory. SwiftPM's build-manifest cache does not see the flags of
# scripts/configure's pkg-config files change: it is left off.
swift_in_build() {
    local command=$1
    shift
    swift "$command" --scratch-path "$MINIAPP_BUILD_DIR" --disable-build-manifest-caching "$@"
}

# quiet_build: runs its arguments, leaving out the compiler's progress lines.
quiet_build() {
    "$@" 2>&1 | { grep -Ev '^\[[0-9]+/[0-9]+\]|started\.$' || true; }
    return "${PIPESTATUS[0]}"
}
