import Foundation

/// A validated input of any problem in `ProblemRegistry`.
struct ProblemInput: Sendable {
    var problem: any Problem

    /// The problem's name, as the input gives it.
    var name: String { type(of: problem).name }

    /// Parses and validates an input document: JSON, or a problem's own
    /// format (a TeaLeaf deck), with `overrides` (--set) applied. `fileName`
    /// prefixes messages; `problems` are those the input may name.
    static func parse(_ text: String, fileName: String, overrides: [InputOverride] = [],
                      problems: [any Problem.Type] = ProblemRegistry.problems) throws(InputError) -> ProblemInput {
        do throws(InputError) {
            var root: JSONNode
            if let native = try readNativeFormat(text, fileName: fileName, problems: problems) {
                if overrides.isEmpty { return ProblemInput(problem: native) }
                root = native.effectiveJSON   // the keys of its JSON form, checked again with the overrides
            } else {
                do {
                    root = try JSONParser.parse(text)
                } catch {
                    throw InputError(key: nil, line: error.line, column: error.column, message: "invalid JSON: \(error.message)")
                }
            }
            for override in overrides { root = try override.applied(to: root) }
            let reader = try ObjectReader(root, path: "")
            let name = try reader.choice("problem", among: problems.map { $0.name })
            return ProblemInput(problem: try problems.first { $0.name == name }!.read(reader))
        } catch {
            var located = error
            if located.file.isEmpty { located.file = fileName }
            throw located
        }
    }

    private static func readNativeFormat(_ text: String, fileName: String, problems: [any Problem.Type])
        throws(InputError) -> (any Problem)? {
        for problem in problems {
            if let input = try problem.readNativeFormat(text, fileName: fileName) { return input }
        }
        return nil
    }

    /// The input with the command line's overrides applied.
    func applying(_ options: RunOptions) throws -> ProblemInput {
        var problem = problem
        try problem.apply(options)
        return ProblemInput(problem: problem)
    }
}
