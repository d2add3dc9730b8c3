import Foundation

/// What `checkOutputPath` checks.
enum OutputKind {
    case results, checkpoint
}

/// Checks on rank 0 that the output (or checkpoint) can be written, before any work.
func checkOutputPath(_ path: String, force: Bool, kind: OutputKind = .results) throws {
    let noun = kind == .results ? "output" : "checkpoint"
    var info = stat()
    if stat(path, &info) == 0 {
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw MiniappFailure(.cannotCreate, "\(noun) path '\(path)' is a directory")
        }
        if !force {
            throw MiniappFailure(.cannotCreate, kind == .results
                ? "output file '\(path)' already exists; pass --force to replace it "
                    + "(it is kept until the new file is complete) or choose another with --output"
                : "checkpoint '\(path)' already exists (from an earlier run); continue that run with "
                    + "`--restart \(path)`, or pass --force to replace it once this run writes its first checkpoint")
        }
    }
    let directory = (path as NSString).deletingLastPathComponent
    let dir = directory.isEmpty ? "." : directory
    if stat(dir, &info) != 0 || (info.st_mode & S_IFMT) != S_IFDIR {
        throw MiniappFailure(.cannotCreate, "cannot write \(noun) '\(path)': directory '\(dir)' does not exist")
    }
    // Try it for real: permissions, read-only file systems, quotas.
    let probe = StagedFile.temporaryPath(for: path)
    let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if fd < 0 {
        throw MiniappFailure(.cannotCreate, "cannot write \(noun) '\(path)': \(String(cString: strerror(errno)))")
    }
    close(fd)
    unlink(probe)
}
