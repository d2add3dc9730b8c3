@testable import MiniappCore
import Testing

@Suite struct RunOptionsTests {
    @Test func threadCountPrecedence() throws {
        var options = RunOptions(inputPath: "x.json")
        #expect(try options.resolvedThreads(environment: [:]).count == 1)
        #expect(try options.resolvedThreads(environment: ["OMP_NUM_THREADS": "3"]) == (3, "OMP_NUM_THREADS"))
        #expect(try options.resolvedThreads(environment: ["OMP_NUM_THREADS": "4,2"]).count == 4)
        #expect(try options.resolvedThreads(environment: ["OMP_NUM_THREADS": "3", "SLURM_CPUS_PER_TASK": "5"]).count == 5)
        options.threads = 2
        #expect(try options.resolvedThreads(environment: ["SLURM_CPUS_PER_TASK": "5"]) == (2, "--threads"))
        options.threads = nil
        #expect(throws: MiniappFailure.self) { try options.resolvedThreads(environment: ["OMP_NUM_THREADS": "0"]) }
    }

    @Test func dimsOption() {
        #expect(RunOptions.parseDims("4x2") == [4, 2])
        #expect(RunOptions.parseDims("0X3") == [0, 3])
        #expect(RunOptions.parseDims("4by2") == nil && RunOptions.parseDims("4x") == nil && RunOptions.parseDims("-1x2") == nil)
    }
}
