@testable import MiniappCore
import Foundation
import MPI
import Testing

/// A problem of this test's own, added through the seam alone: a
/// configuration that conforms to `Problem` and a state that conforms to
/// `TimeSteppingProblem`, run by `Miniapp.run` with MPI (one rank) in the
/// shared time loop, with no change to miniapp. Every point decays,
/// u' = -k u, by explicit Euler: after n steps u = u0 (1 - k dt)^n, which
/// the test computes as the same product, step by step.
struct DecayConfiguration: Problem, Equatable {
    static let name = "decay"
    var n = 12
    var steps = 10
    /// 1 - k dt.
    var factor = 0.75
    var initial = 2.0
    var dims = [0, 0]
    var output = OutputSpec(path: "decay.h5", every: 0, diagnosticsEvery: 3)

    static func read(_ root: ObjectReader) throws(InputError) -> DecayConfiguration {
        try root.rejectUnknownKeys(known: ["problem", "n", "steps", "factor", "initial", "output"])
        var c = DecayConfiguration()
        c.n = try root.integer("n", default: 12, min: 1)
        c.steps = try root.integer("steps", default: 10, min: 0)
        c.factor = try root.number("factor", default: 0.75, min: 0)
        c.initial = try root.number("initial", default: 2)
        c.output = try OutputSpec.read(root, defaultPath: "decay.h5")
        return c
    }

    var effectiveJSON: JSONNode {
        .object([("problem", .string(Self.name)), ("n", .int(n)), ("steps", .int(steps)), ("factor", .double(factor)),
                 ("initial", .double(initial)), ("output", output.json)])
    }
    var trajectoryJSON: JSONNode {
        .object([("n", .int(n)), ("factor", .double(factor)), ("initial", .double(initial))])
    }
    var outputPath: String { output.path }
    var gridSize: (nx: Int, ny: Int) { (n, n) }

    mutating func apply(_ options: RunOptions) throws {
        if let steps = options.steps { self.steps = steps }
        try options.apply(output: &output.path, dims: &dims, checkpoint: &output.checkpoint)
    }

    func check(_ restart: RestartPlan) throws {}

    func run(context: RunContext, threadSource: String, restart: RestartPlan?) throws -> RunSummary {
        let run = try SteppedRun(context: context, restart: restart, input: effectiveJSON, outputPath: output.path,
                                 checkpoint: output.checkpoint, nx: n, ny: n, dims: dims, periods: [false, false])
        let decay = try Decay(self, run: run)
        let file = try run.createOutput(snapshotFields: ["u"], restored: nil, scratch: [])
        let outcome = run.loop(decay, output: file)
        _ = run.finish(file, xdmf: nil) {
            try file.appendSeries("diagnostics/step", values: decay.record.map { Int64($0.step) }, at: 0)
            try file.appendSeries("diagnostics/max", values: decay.record.map(\.maximum), at: 0)
        }
        let summary = try RunSummary(problem: Self.name, phases: decay.timer, comm: run.communicator,
                                     threads: context.threads, metrics: [
            "diagnostics": Double(decay.record.count), "last_step": Double(decay.record.last?.step ?? -1),
            "maximum": decay.record.last?.maximum ?? .nan,
        ])
        try run.end(outcome, summary: summary)
        return summary
    }
}

/// The decaying field on one rank.
final class Decay: TimeSteppingProblem {
    let configuration: DecayConfiguration
    let block: Decomposition.Block
    let communicator: Communicator
    let u: Field
    var timer = PhaseTimer(phases: ["step", "reduction", "io", "checkpoint", "total"])
    private(set) var record: [(step: Int, maximum: Double)] = []

    init(_ configuration: DecayConfiguration, run: SteppedRun) throws {
        self.configuration = configuration
        block = run.setup.block
        communicator = run.communicator
        u = try Field(nx: block.nx, ny: block.ny, halo: 1)
        for j in 0..<block.ny { for i in 0..<block.nx { u.origin[j * u.stride + i] = configuration.initial } }
    }

    var name: String { DecayConfiguration.name }
    var gridSize: (nx: Int, ny: Int) { configuration.gridSize }
    var diagnosticsEvery: Int { configuration.output.diagnosticsEvery }
    var snapshotEvery: Int? { configuration.output.every }
    var snapshotFields: [(name: String, field: Field)] { [("u", u)] }
    var stateFields: [(name: String, field: Field)] { [("u", u)] }
    var stateScalars: [String: Double] { [:] }
    var series: [String: Checkpoint.Series] { ["diagnostics/step": .ints(record.map { Int64($0.step) })] }

    func isLast(step: Int, time: Double) -> Bool { step >= configuration.steps }
    func reach(from step: Int) -> Int { configuration.steps }

    func begin(at step: Int, fresh: Bool) throws {
        if fresh { _ = try diagnose(step: step, time: 0) }
    }

    func advance(from step: Int, to target: Int, time: Double) throws -> (time: Double, finite: Bool?) {
        timer.start(0)
        for _ in step..<target {
            for j in 0..<block.ny { for i in 0..<block.nx { u.origin[j * u.stride + i] *= configuration.factor } }
        }
        return (Double(target), nil)
    }

    func diagnose(step: Int, time: Double) throws -> Bool {
        timer.start(1)
        var local = -Double.infinity
        for j in 0..<block.ny { for i in 0..<block.nx { local = max(local, u.origin[j * u.stride + i]) } }
        let maximum = try communicator.allreduce(local, op: .max)
        record.append((step, maximum))
        return maximum.isFinite
    }
}

@Suite struct ProblemSeamTests {
    private func number(_ node: JSONNode?) -> Double? {
        if case .number(let text)? = node?.value { Double(text) } else { nil }
    }

    /// MPI starts once per process: this is the one test that runs miniapp in it.
    @Test func aProblemAddedThroughTheSeamRunsInTheSharedLoop() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("seam-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("decay.json").path
        let results = folder.appendingPathComponent("decay.h5").path
        try #"{"problem": "decay", "n": 12, "steps": 10, "factor": 0.75, "initial": 2, "output": {"path": "\#(results)", "diagnostics_every": 3, "checkpoint_every": 4}}"#
            .write(toFile: input, atomically: true, encoding: .utf8)

        var options = RunOptions(inputPath: input)
        options.verbosity = .quiet
        options.jsonPath = folder.appendingPathComponent("summary.json").path
        let status = Miniapp.run(options, problems: ProblemRegistry.problems + [DecayConfiguration.self])
        #expect(status == 0)

        let summary = try JSONParser.parse(String(contentsOfFile: options.jsonPath!, encoding: .utf8))
        let metrics = try #require(summary["metrics"])
        var expected = 2.0
        for _ in 0..<10 { expected *= 0.75 }
        // Diagnostics at 0, 3, 6 and 9 and the last step; the loop cut its
        // blocks of steps at them and at the checkpoints.
        #expect(number(metrics["diagnostics"]) == 5 && number(metrics["last_step"]) == 10)
        #expect(number(metrics["maximum"]) == expected)
        #expect(FileManager.default.fileExists(atPath: results))
        let checkpoint = try Checkpoint.inspect(folder.appendingPathComponent("decay.chk.h5").path)
        #expect(checkpoint.problem == "decay" && checkpoint.step == 8)
    }
}
