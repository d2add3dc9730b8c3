import Foundation
import MPI

/// Reads the input file on rank 0 and sends its text to every rank (one
/// reader, not a stampede of ranks on the file system).
func readInputText(path: String, world: Communicator) throws -> String {
    let text = try world.collectively { world.isRoot ? try readTextFile(path) : "" }
    return try world.broadcast(string: text)
}

private func readTextFile(_ path: String) throws -> String {
    var info = stat()
    if stat(path, &info) != 0 {
        throw MiniappFailure(.noInput, "cannot read input file '\(path)': \(String(cString: strerror(errno)))")
    }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        throw MiniappFailure(.noInput, "input '\(path)' is a directory, not a file")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw MiniappFailure(.noInput, "cannot read input file '\(path)': \(String(cString: strerror(errno)))")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw MiniappFailure(.dataError, "\(path): the file is not UTF-8 text")
    }
    return text
}
