import Foundation
import MPI

/// A run that continues from a checkpoint (`miniapp --restart`).
struct RestartPlan {
    let path: String
    /// The step the checkpoint holds.
    let step: Int
    /// Its time (TeaLeaf adds dt step by step: the sum is kept, not recomputed).
    let time: Double
    /// The results file of the run that wrote the checkpoint: the new results
    /// file takes over its snapshots up to the checkpoint.
    let previousOutput: String

    /// Root attributes of the results file of a restarted run.
    var attributes: [String: AttributeValue] {
        ["restarted_from": .string(path), "restart_step": .int(step)]
    }

    /// Reads the input of a restart (collective): the checkpoint's own
    /// input, or `inputPath` when given, which must describe the same problem
    /// (docs/guide/restart-and-faults.md). Rank 0 checks the checkpoint first.
    /// `overrides` (--set) apply to the input given, else to the checkpoint's.
    static func read(_ path: String, inputPath: String?, overrides: [InputOverride], problems: [any Problem.Type],
                     world: Communicator) throws
        -> (ProblemInput, RestartPlan) {
        let header = try world.collectively { () throws -> String in
            guard world.isRoot else { return "" }
            let c = try Checkpoint.inspect(path)
            return [c.problem, c.inputJSON, c.outputPath, String(c.step), String(c.time.bitPattern), String(c.nx),
                    String(c.ny)].joined(separator: "\u{0}")
        }
        let fields = try world.broadcast(string: header).split(separator: "\u{0}", omittingEmptySubsequences: false)
            .map(String.init)
        guard fields.count == 7, let step = Int(fields[3]), let bits = UInt64(fields[4]), let nx = Int(fields[5]),
              let ny = Int(fields[6]) else {
            throw MiniappFailure(.software, "restart file '\(path)': malformed header")
        }
        let plan = RestartPlan(path: path, step: step, time: Double(bitPattern: bits), previousOutput: fields[2])
        let stored = try world.collectively { () throws -> ProblemInput in
            do throws(InputError) {
                return try ProblemInput.parse(fields[1], fileName: "\(path) (its stored input)", problems: problems)
            } catch {
                throw MiniappFailure(.dataError, "restart file '\(path)' holds an input this miniapp refuses: \(error)")
            }
        }
        try world.collectively {
            guard stored.name == fields[0], stored.problem.gridSize == (nx, ny) else {
                throw MiniappFailure(.dataError, "restart file '\(path)' is damaged: its header and its input disagree")
            }
        }
        if inputPath == nil && overrides.isEmpty { return (stored, plan) }

        let text = try inputPath.map { try readInputText(path: $0, world: world) } ?? fields[1]
        let inputPath = inputPath ?? "\(path) (its stored input)"
        let given = try world.collectively { () throws -> ProblemInput in
            do throws(InputError) {
                return try ProblemInput.parse(text, fileName: inputPath, overrides: overrides, problems: problems)
            } catch {
                throw MiniappFailure(.dataError, error.description)
            }
        }
        try world.collectively {
            if given.name != stored.name {
                throw MiniappFailure(.dataError, "restart file '\(path)' is from problem \"\(stored.name)\", "
                                     + "but \(inputPath) is problem \"\(given.name)\"")
            }
            if let (key, mine, theirs) = firstDifference(given.problem.trajectoryJSON, stored.problem.trajectoryJSON) {
                throw MiniappFailure(.dataError, "\(inputPath) does not continue the run in '\(path)': \(key) is \(mine) "
                                     + "here but \(theirs) in the checkpoint (a restart may change the steps, output, "
                                     + "decomposition and scheme, not the problem)")
            }
        }
        return (given, plan)
    }
}

/// The first leaf where two JSON documents differ: its key path and both values.
private func firstDifference(_ a: JSONNode, _ b: JSONNode, path: String = "") -> (String, String, String)? {
    switch (a.value, b.value) {
    case (.object(let x), .object(let y)):
        for (key, value) in x {
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            guard let other = y.first(where: { $0.key == key })?.value else { return (keyPath, value.serialized(), "absent") }
            if let difference = firstDifference(value, other, path: keyPath) { return difference }
        }
        if let extra = y.first(where: { member in !x.contains { $0.key == member.key } }) {
            return (path.isEmpty ? extra.key : "\(path).\(extra.key)", "absent", extra.value.serialized())
        }
        return nil
    case (.array(let x), .array(let y)) where x.count == y.count:
        for (k, (p, q)) in zip(x, y).enumerated() {
            if let difference = firstDifference(p, q, path: "\(path)[\(k)]") { return difference }
        }
        return nil
    default:
        let (p, q) = (a.serialized(), b.serialized())
        return p == q ? nil : (path, p.replacingOccurrences(of: "\n", with: " "), q.replacingOccurrences(of: "\n", with: " "))
    }
}
