import Foundation
import MPI

/// A validated input of any problem.
public enum ProblemInput: Sendable {
    case heat(HeatConfiguration)
    case tealeaf(TealeafConfiguration)
    case integrate(IntegrateConfiguration)

    public static let problems = ["heat", "tealeaf", "integrate"]

    /// Whether `text` is a TeaLeaf deck rather than JSON.
    static func isTealeafDeck(_ text: String) -> Bool {
        guard let first = text.first(where: { !$0.isWhitespace }) else { return false }
        return first != "{" && first != "[" && text.lowercased().contains("*tea")
    }

    /// Parses and validates an input document: JSON, or a TeaLeaf deck, with
    /// `overrides` (--set) applied. `fileName` prefixes messages.
    public static func parse(_ text: String, fileName: String, overrides: [InputOverride] = []) throws(InputError)
        -> ProblemInput {
        do throws(InputError) {
            var root: JSONNode
            if isTealeafDeck(text) {
                var c = try TealeafDeck.parse(text, fileName: fileName)
                // A deck has no output path: name the results after it.
                let base = ((fileName as NSString).lastPathComponent as NSString).deletingPathExtension
                c.output.path = (base.isEmpty ? "tea" : base) + ".h5"
                if overrides.isEmpty { return .tealeaf(c) }
                root = c.effectiveJSON   // the keys of TeaLeaf's JSON form, checked again with the overrides
            } else {
                do {
                    root = try JSONParser.parse(text)
                } catch {
                    throw InputError(key: nil, line: error.line, column: error.column, message: "invalid JSON: \(error.message)")
                }
            }
            for override in overrides { root = try override.applied(to: root) }
            let reader = try ObjectReader(root, path: "")
            let problem = try reader.choice("problem", among: problems)
            switch problem {
            case "tealeaf": return .tealeaf(try TealeafConfiguration.read(reader))
            case "integrate": return .integrate(try IntegrateConfiguration.read(reader))
            default: return .heat(try HeatConfiguration.read(reader))
            }
        } catch {
            var located = error
            if located.file.isEmpty { located.file = fileName }
            throw located
        }
    }
}

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
