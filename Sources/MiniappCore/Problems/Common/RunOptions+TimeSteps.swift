import Foundation

extension RunOptions {
    /// --output, --dims and --checkpoint-every, for a problem with time steps.
    func apply(output: inout String, dims: inout [Int], checkpoint: inout CheckpointSpec) throws {
        if let outputPath { output = outputPath }
        if let given = self.dims { dims = given }
        if let checkpointEvery { checkpoint.every = checkpointEvery }
        // Both files are staged under their names: they must differ.
        let path = checkpoint.resolvedPath(output: output)
        let absolute = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
        if absolute(path) == absolute(output) {
            throw MiniappFailure(.dataError, "output.checkpoint_path '\(path)' is the results file itself: choose another path")
        }
    }
}
