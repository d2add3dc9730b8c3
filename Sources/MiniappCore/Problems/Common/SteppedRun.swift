import Foundation
import MPI

/// What every time-stepping run does the same way around its numerics: the
/// process grid and the checkpoint plan; the results file, which takes over
/// a restarted run's earlier snapshots; the time loop; writing the results;
/// and the failure that a stopped or diverged run ends in, once its results
/// are written. Errors inside the loop or the output, which one rank may see
/// alone, end the job (`JobAbort`).
struct SteppedRun {
    let context: RunContext
    /// Set when the run continues from a checkpoint.
    let restart: RestartPlan?
    let plan: CheckpointPlan
    let setup: GridSetup

    var communicator: Communicator { setup.communicator }
    var outputPath: String { plan.outputPath }

    /// Chooses the process grid and checks the output paths (collective).
    init(context: RunContext, restart: RestartPlan?, input: JSONNode, outputPath: String, checkpoint: CheckpointSpec,
         nx: Int, ny: Int, dims: [Int], periods: [Bool]) throws {
        self.context = context
        self.restart = restart
        plan = CheckpointPlan(checkpoint, outputPath: outputPath, input: input)
        // A run that will write checkpoints must not replace one already there (unless --force).
        setup = try GridSetup(context: context, nx: nx, ny: ny, requestedDims: dims, periods: periods,
                              outputPath: outputPath, checkpointPath: restart == nil && plan.every > 0 ? plan.path : nil)
    }

    /// Creates the results file (collective), after the state exists and a
    /// restart was read, so that a failure before leaves no file behind.
    /// `prepare` writes what the file holds from the start (static fields);
    /// a restarted run then copies its earlier snapshots, through `scratch`.
    func createOutput(snapshotFields: [String], groups: [String] = [], restored: Checkpoint?, scratch: [Field],
                      prepare: (ResultFile) throws -> Void = { _ in }) throws -> ResultFile {
        let (nx, ny) = (setup.decomposition.nx, setup.decomposition.ny)
        let comm = communicator
        let output = try comm.collectively {
            try ResultFile(path: outputPath, communicator: comm, nx: nx, ny: ny, snapshotFields: snapshotFields,
                           groups: groups)
        }
        do {
            try prepare(output)
            if let restart, let restored,
               let warning = try output.carryOverSnapshots(from: restart.previousOutput, steps: restored.snapshotSteps,
                                                           times: restored.snapshotTimes, scratch: scratch,
                                                           block: setup.block) {
                context.console.warning(warning)
            }
        } catch {
            JobAbort.abort(error)
        }
        return output
    }

    /// Runs the time loop.
    func loop(_ problem: some TimeSteppingProblem, output: ResultFile) -> TimeLoop.Outcome {
        do {
            return try TimeLoop(output: output, checkpoints: plan, context: context, restart: restart).run(problem)
        } catch {
            JobAbort.abort(error)
        }
    }

    /// Writes the results (`write`) and closes the file, with its XDMF
    /// sidecar if given. Returns the sidecar's path and the seconds spent.
    func finish(_ output: ResultFile, xdmf: XDMFDescription?, write: () throws -> Void)
        -> (sidecar: String?, seconds: Double) {
        do {
            let began = wallSeconds()
            try write()
            let sidecar = try output.finish(xdmf: xdmf)
            return (sidecar, wallSeconds() - began)
        } catch {
            JobAbort.abort(error)
        }
    }

    /// Throws the failure of a run that stopped or diverged, with its
    /// summary; returns for a completed run.
    func end(_ outcome: TimeLoop.Outcome, summary: RunSummary) throws {
        if var failure = outcome.ending.failure(checkpointPath: plan.path, lastCheckpoint: outcome.lastCheckpoint,
                                                outputPath: outputPath) {
            failure.summary = summary
            throw failure
        }
    }
}
