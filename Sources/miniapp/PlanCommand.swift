import ArgumentParser
import MiniappCore
import MPI

/// `miniapp plan`: the process grid and blocks that runs would choose, as
/// JSON, without running them. The performance model (miniapp-report)
/// reads it, so that it cannot drift from what a run does.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Print, as JSON, the process grid and blocks that runs on the given numbers of ranks would choose.",
        discussion: "Run it directly (not under mpirun). For each number of ranks: the process grid, and each "
            + "Cartesian rank's coordinates, offsets and block sizes; and the row alignment of the fields, in doubles.")

    @Option(help: ArgumentHelp("The global grid, e.g. 4096x4096.", valueName: "NXxNY"))
    var grid: String

    @Option(help: ArgumentHelp("Numbers of ranks, e.g. 1,2,4,8.", valueName: "LIST"))
    var ranks: String

    @Option(help: ArgumentHelp("Process grid, e.g. 4x2; 0 lets MPI choose an axis (as decomposition.dims).",
                               valueName: "PXxPY"))
    var dims = "0x0"

    func run() throws {
        guard let size = RunOptions.parseDims(grid), size.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--grid must be NXxNY with positive sizes, got '\(grid)'")
        }
        let counts = ranks.split(separator: ",").map { Int($0) }
        guard !counts.isEmpty, counts.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--ranks must be a list of positive integers like 1,2,4, got '\(ranks)'")
        }
        guard let requested = RunOptions.parseDims(dims) else {
            throw ValidationError("--dims must be PXxPY, e.g. 4x2 (0 leaves an axis to MPI), got '\(dims)'")
        }
        _ = try MPIRuntime.initialize(required: .single)   // for MPI_Dims_create, on this process alone
        defer { MPIRuntime.finalize() }
        var plans: [JSONNode] = []
        for count in counts {
            do {
                plans.append(try GridPlan(nx: size[0], ny: size[1], ranks: count!, requestedDims: requested).json)
            } catch let error as DecompositionError {
                Console.write("miniapp: error: \(count!) ranks: \(error)\n", to: .error)
                throw ExitCode(ExitStatus.dataError.rawValue)
            }
        }
        let document = JSONNode(.object([("grid", .array(size.map(JSONNode.int))), ("row_alignment", .int(Field.rowAlignment)),
                                         ("plans", .array(plans))]))
        print(document.serialized())
    }
}
