import MiniappCore

/// Times `body` `repeats` times after `warmup` untimed runs: one value per
/// call, or with `batch` > 1 the mean of each `batch` calls in a row.
///
/// Batches are for what two ranks do in turn, such as an exchange: where a
/// message takes long against the calls, the ranks fall into a rhythm in which
/// every other call finds its message already there, so single calls take
/// about 0 or twice the latency, and their median reads double.
func measure(repeats: Int, warmup: Int = 1, batch: Int = 1, _ body: () throws -> Void) rethrows -> Sample {
    for _ in 0..<warmup { try body() }
    var times: [Double] = []
    for _ in 0..<max(1, repeats / batch) {
        let t0 = wallSeconds()
        for _ in 0..<batch { try body() }
        times.append((wallSeconds() - t0) / Double(batch))
    }
    return Sample(times)
}
