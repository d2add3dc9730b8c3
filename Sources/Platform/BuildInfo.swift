import CBuildInfo

/// How this binary was built, as scripts/configure recorded it before the
/// build ("unknown" for a build without it): for the run metadata.
public enum BuildInfo {
    public static var gitCommit: String { String(cString: miniapp_build_git_commit()) }
    public static var compiler: String { String(cString: miniapp_build_compiler()) }
    public static var mpiCompilerWrapper: String { String(cString: miniapp_build_mpi_wrapper()) }
}
