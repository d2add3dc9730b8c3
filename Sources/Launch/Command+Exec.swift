#if canImport(Glibc)
import Glibc
#endif

extension Launcher.Command {
    /// Replaces this process with the command, its environment this one's
    /// with `environment` added: the launcher then has this process's id,
    /// and signals sent to it (Ctrl-C, a batch system's) reach it directly.
    public func exec(inheriting inherited: [String: String]) -> Launcher.Failure {
        let variables = inherited.merging(environment) { _, added in added }.map { "\($0.key)=\($0.value)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = variables.map { strdup($0) } + [nil]
        execve(executable, argv, envp)
        let reason = String(cString: strerror(errno))
        return Launcher.Failure(description: "cannot start \(executable): \(reason)")
    }
}

/// `name` itself when it holds a slash, else the first executable of that name on `path`.
func findExecutable(_ name: String, path: String) -> String? {
    if name.contains("/") { return isExecutable(name) ? name : nil }
    return path.split(separator: ":").lazy.map { "\($0)/\(name)" }.first(where: isExecutable)
}

func isExecutable(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
}
