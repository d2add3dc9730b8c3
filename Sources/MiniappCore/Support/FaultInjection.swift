import Foundation

/// A test switch that makes one rank fail, to exercise the paths that stop a
/// whole job when one rank cannot go on (docs/guide/restart-and-faults.md):
///
///     MINIAPP_FAULT=KIND[:rank=R][:step=S][:file=output|checkpoint]
///
/// - `write`: the first field write on rank R at or after step S fails (in
///   the given file, or any), as an I/O error would;
/// - `alloc`: the first field allocation on rank R fails, as if out of memory;
/// - `nan`: rank R puts a NaN into its block of the solution after step S
///   (`tealeaf`: the energy).
///
/// Unset in normal runs; a malformed value is refused at start-up.
struct FaultInjection: Equatable {
    enum Kind: String, CaseIterable { case write, alloc, nan }

    let kind: Kind
    let rank: Int
    let step: Int
    /// "output" or "checkpoint"; nil for any file.
    let file: String?

    static let variable = "MINIAPP_FAULT"

    /// Parses the variable's value; nil and a message when it is malformed.
    static func parse(_ text: String) -> Result<FaultInjection, MiniappFailure> {
        let parts = text.split(separator: ":").map(String.init)
        let bad = { (why: String) in
            Result<FaultInjection, MiniappFailure>.failure(MiniappFailure(.usage, "\(variable)=\(text): \(why); expected "
                + "KIND[:rank=R][:step=S][:file=output|checkpoint] with KIND one of "
                + Kind.allCases.map(\.rawValue).joined(separator: ", ")))
        }
        guard let first = parts.first, let kind = Kind(rawValue: first) else { return bad("unknown kind") }
        var rank = 0, step = 0
        var file: String? = nil
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { return bad("'\(part)' is not KEY=VALUE") }
            switch pair[0] {
            case "rank":
                guard let r = Int(pair[1]), r >= 0 else { return bad("rank must be an integer >= 0") }
                rank = r
            case "step":
                guard let s = Int(pair[1]), s >= 0 else { return bad("step must be an integer >= 0") }
                step = s
            case "file":
                guard ["output", "checkpoint"].contains(pair[1]) else { return bad("file must be output or checkpoint") }
                file = pair[1]
            default:
                return bad("unknown key '\(pair[0])'")
            }
        }
        return .success(FaultInjection(kind: kind, rank: rank, step: step, file: file))
    }

    // MARK: The process's switch (main thread only)

    nonisolated(unsafe) private static var armed: FaultInjection?
    nonisolated(unsafe) private static var thisRank = 0
    /// The step the run is at, kept current by the time loops.
    nonisolated(unsafe) static var currentStep = 0

    /// Reads MINIAPP_FAULT for the rank `rank`.
    static func configure(rank: Int, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        thisRank = rank
        currentStep = 0
        guard let text = environment[variable], !text.isEmpty else { armed = nil; return }
        armed = try parse(text).get()
    }

    /// True once, on the chosen rank, when the fault of `kind` is due.
    static func fires(_ kind: Kind, file: String? = nil) -> Bool {
        guard let fault = armed, fault.kind == kind, fault.rank == thisRank, currentStep >= fault.step else { return false }
        if let wanted = fault.file, let file, wanted != file { return false }
        armed = nil
        return true
    }
}
