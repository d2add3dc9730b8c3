/// The per-step solver record (/diagnostics) and the field summaries
/// (/summary) of a TeaLeaf run.
struct TealeafRecords {
    var step: [Int64] = [], time: [Double] = [], iterations: [Int64] = [], innerIterations: [Int64] = []
    var residual: [Double] = [], trueResidual: [Double] = [], converged: [Int64] = [], solveSeconds: [Double] = []
    var summaryStep: [Int64] = [], summaryTime: [Double] = []
    var volume: [Double] = [], mass: [Double] = [], density: [Double] = [], energy: [Double] = [], temperature: [Double] = []

    mutating func add(_ s: TealeafSolver.Summary, step: Int, time: Double) {
        summaryStep.append(Int64(step)); summaryTime.append(time)
        volume.append(s.volume); mass.append(s.mass); density.append(s.density)
        energy.append(s.internalEnergy); temperature.append(s.temperature)
    }

    mutating func add(_ result: TealeafSolver.Result, step: Int, time: Double, trueResidual norm: Double, seconds: Double) {
        self.step.append(Int64(step)); self.time.append(time)
        iterations.append(Int64(result.iterations)); innerIterations.append(Int64(result.innerIterations))
        residual.append(result.residual)
        trueResidual.append(result.initialNorm > 0 ? norm / result.initialNorm : 0)
        converged.append(result.converged ? 1 : 0)
        solveSeconds.append(seconds)
    }

    /// Every series by its path in the results file (and in a checkpoint).
    var series: [String: Checkpoint.Series] {
        var all: [String: Checkpoint.Series] = [
            "diagnostics/step": .ints(step), "diagnostics/iterations": .ints(iterations),
            "diagnostics/inner_iterations": .ints(innerIterations), "diagnostics/converged": .ints(converged),
            "summary/step": .ints(summaryStep),
        ]
        for (name, values) in doubleSeries { all[name] = .doubles(values) }
        return all
    }

    private var doubleSeries: [(String, [Double])] {
        [("diagnostics/time", time), ("diagnostics/residual", residual), ("diagnostics/true_residual", trueResidual),
         ("diagnostics/solve_seconds", solveSeconds), ("summary/time", summaryTime), ("summary/volume", volume),
         ("summary/mass", mass), ("summary/density", density), ("summary/energy", energy),
         ("summary/temperature", temperature)]
    }

    init() {}

    /// The records of a checkpoint (read from `path`).
    init(series: [String: Checkpoint.Series], path: String) throws {
        func ints(_ name: String) throws -> [Int64] {
            guard case .ints(let values)? = series[name] else { throw missing(name) }
            return values
        }
        func doubles(_ name: String) throws -> [Double] {
            guard case .doubles(let values)? = series[name] else { throw missing(name) }
            return values
        }
        func missing(_ name: String) -> MiniappFailure {
            MiniappFailure(.dataError, "restart file '\(path)' has no series \(name) (not a TeaLeaf checkpoint?)")
        }
        step = try ints("diagnostics/step"); iterations = try ints("diagnostics/iterations")
        innerIterations = try ints("diagnostics/inner_iterations"); converged = try ints("diagnostics/converged")
        time = try doubles("diagnostics/time"); residual = try doubles("diagnostics/residual")
        trueResidual = try doubles("diagnostics/true_residual"); solveSeconds = try doubles("diagnostics/solve_seconds")
        summaryStep = try ints("summary/step"); summaryTime = try doubles("summary/time")
        volume = try doubles("summary/volume"); mass = try doubles("summary/mass"); density = try doubles("summary/density")
        energy = try doubles("summary/energy"); temperature = try doubles("summary/temperature")
        let perStep = [time.count, iterations.count, innerIterations.count, converged.count, residual.count,
                       trueResidual.count, solveSeconds.count]
        let perSummary = [summaryTime.count, volume.count, mass.count, density.count, energy.count, temperature.count]
        guard perStep.allSatisfy({ $0 == step.count }), perSummary.allSatisfy({ $0 == summaryStep.count }) else {
            throw MiniappFailure(.dataError, "restart file '\(path)' has series of unequal lengths")
        }
    }
}
