import CMPI

/// The MPI library this program is built with, and the launcher that
/// scripts/configure found for it.
public enum MPIImplementation {
    /// The two ABI families: a binary built for one cannot run under the other.
    public enum Family: String, Sendable {
        case openMPI = "Open MPI"
        /// MPICH and the libraries built from it: Intel MPI, MVAPICH, Cray MPICH.
        case mpich = "MPICH"
    }

    public static var family: Family { cmpi_family() == 1 ? .openMPI : .mpich }

    /// MPI_Get_library_version (allowed before MPI_Init), e.g. "Open MPI v4.1.4, package: ..."
    /// or "MPICH Version: 4.0.2\nMPICH Release date: ...".
    public static var libraryVersion: String {
        var buffer = [CChar](repeating: 0, count: Int(cmpi_max_library_version_string()) + 1)
        var length: Int32 = 0
        MPI_Get_library_version(&buffer, &length)
        return MPIRuntime.trimmed(buffer, length)
    }

    /// The library and its version in a few words: "Open MPI v4.1.4", "MPICH 4.0.2".
    public static var name: String { shortName(libraryVersion) }

    /// "MPICH Version:\t4.0.2\n..." -> "MPICH 4.0.2"; "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4".
    static func shortName(_ version: String) -> String {
        let line = version.split(whereSeparator: \.isNewline).first.map(String.init) ?? version
        let parts = line.split(separator: ":", maxSplits: 1)
        if parts.count == 2, let library = parts[0].split(separator: " ").first, parts[0].contains("Version") {
            return "\(library) \(trimmed(parts[1]))"
        }
        return trimmed(line.split(separator: ",").first ?? Substring(line))
    }

    /// The launcher beside the compiler wrapper of the build (mpirun, mpiexec), or nil.
    public static var configuredLauncher: String? {
        let path = String(cString: cmpi_configured_launcher())
        return path.isEmpty ? nil : path
    }

    /// The compiler wrapper the build used, e.g. "/usr/bin/mpicc.mpich".
    public static var configuredWrapper: String { String(cString: cmpi_configured_wrapper()) }
}

/// `text` without leading and trailing white space.
private func trimmed<S: StringProtocol>(_ text: S) -> String {
    String(text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
}
