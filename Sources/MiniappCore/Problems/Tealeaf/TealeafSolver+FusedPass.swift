import Kernels
import ThreadPool

/// CG's update pass and its operator pass in one sweep over memory: each
/// thread updates its rows a few at a time just ahead of the operator, which
/// then reads r (or z) from cache instead of from memory.
///
/// The operator at row j needs rows j - 1 ... j + 1 updated, and every cell
/// is updated exactly once (the update works in place). So the rows that
/// other threads read (each thread's first and last) and the columns the
/// halo exchange sends are updated first, in a pass of their own; then the
/// exchange starts, and the operator runs over its rectangles, updating the
/// rest of a thread's rows up to the one below the rows it is about to take.
extension TealeafSolver {
    /// Rows updated, then taken by the operator, at a time.
    static let fusedRows = 8

    /// `update(rows, columns)` on a rectangle of the owned block, then
    /// `apply(thread, rows, columns)` as `overlapped` runs it, exchanging the
    /// halo of `fields`; every owned cell is updated once, before any
    /// operator reads it.
    func updateAndApply(_ fields: [Field], update: (Range<Int>, Range<Int>) -> Void,
                        apply: (Int, Range<Int>, Range<Int>) -> Void) throws {
        let (nx, ny) = (model.block.nx, model.block.ny)
        let sides = receivingSides
        let west = sides.contains(.west) ? 1 : 0, east = sides.contains(.east) ? 1 : 0
        let inner = west ..< max(west, nx - east)
        let next = fusedNextRow
        timer.start(Phase.update.rawValue)
        context.pool.run { t in
            let began = wallSeconds()
            let mine = threadRowRange(t)
            if !mine.isEmpty {
                update(mine.lowerBound ..< mine.lowerBound + 1, 0..<nx)
                if mine.count > 1 { update(mine.upperBound - 1 ..< mine.upperBound, 0..<nx) }
                if mine.count > 2 {
                    let between = mine.lowerBound + 1 ..< mine.upperBound - 1
                    if west == 1 { update(between, 0..<1) }
                    if east == 1 && nx > 1 { update(between, nx - 1 ..< nx) }
                }
            }
            next[t] = mine.lowerBound + 1
            threadSeconds[t] += wallSeconds() - began
        }
        try overlapped(fields) { t, rows, columns in
            let last = threadRowRange(t).upperBound - 1   // updated with the seams
            var j = rows.lowerBound
            while j < rows.upperBound {
                let end = min(j + Self.fusedRows, rows.upperBound)
                let due = min(end + 1, last)
                if next[t] < due {
                    update(next[t] ..< due, inner)
                    next[t] = due
                }
                apply(t, j..<end, columns)
                j = end
            }
        }
    }
}
