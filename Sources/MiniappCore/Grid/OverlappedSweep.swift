import ThreadPool

/// A sweep over a rank's block that overlaps a halo exchange: the points
/// whose stencil reads no halo data are computed while the messages travel,
/// the strips along the sides that receive halo data after MPI_Waitall.
///
/// Threads own static row blocks of the block (the same for every sweep);
/// thread 0, the main thread, calls into MPI between chunks of its rows so
/// that messages move while it computes (Open MPI has no progress thread).
package struct OverlappedSweep {
    package let nx: Int, ny: Int
    /// Rows and columns whose stencil needs no halo data from the exchange.
    package let innerRows: Range<Int>
    package let innerColumns: Range<Int>
    package let threadRows: BlockPartition

    /// Points computed between two calls into MPI by the main thread (tens
    /// of microseconds of work): enough calls to move a large message through
    /// its rendezvous and pipeline, few enough to cost nothing.
    package static let progressChunk = 32_768
    /// Rows a chunk has at least: a band of the sweep (`heatStencilSweep`
    /// goes up four rows at a time), so very wide rows are cut into columns.
    package static let chunkRows = 4

    /// Phases to charge: posting, the interior, waiting, the strips.
    package struct Phases {
        let post: Int, interior: Int, wait: Int, boundary: Int

        package init(post: Int, interior: Int, wait: Int, boundary: Int) {
            (self.post, self.interior, self.wait, self.boundary) = (post, interior, wait, boundary)
        }
    }

    /// `reach`: how far the stencil reads (1 for 5 points).
    package init(nx: Int, ny: Int, receivingSides: Set<HaloExchange.Direction>, threads: Int, reach: Int) {
        self.nx = nx
        self.ny = ny
        let south = receivingSides.contains(.south) ? reach : 0, north = receivingSides.contains(.north) ? reach : 0
        let west = receivingSides.contains(.west) ? reach : 0, east = receivingSides.contains(.east) ? reach : 0
        let y0 = min(south, ny), x0 = min(west, nx)
        innerRows = y0 ..< max(y0, ny - north)
        innerColumns = x0 ..< max(x0, nx - east)
        threadRows = BlockPartition(count: ny, parts: threads)
    }

    /// True when every point is inner (no side receives halo data).
    package var coversEverything: Bool { innerRows.count == ny && innerColumns.count == nx }

    /// Exchanges the halos of `fields` while `kernel(thread, rows, columns)`
    /// computes the block. `kernel` may be called several times per thread,
    /// on disjoint rectangles of the thread's rows, and must not call MPI.
    /// `polling` false leaves the messages to themselves during the interior
    /// (the benchmark's measure of what the calls into MPI buy).
    package func run(pool: ForkJoinPool, exchange: HaloExchange, fields: [UnsafeMutablePointer<Double>],
             timer: inout PhaseTimer, phases: Phases, threadSeconds: PerThread<Double>, polling: Bool = true,
             kernel: (Int, Range<Int>, Range<Int>) -> Void) throws {
        timer.start(phases.post)
        try exchange.start(fields)

        timer.start(phases.interior)
        let rows = innerRows, columns = innerColumns
        let drivesProgress = polling && exchange.messageCount > 0
        var progressError: Error? = nil
        pool.run { t in
            let began = wallSeconds()
            let mine = threadRows.range(of: t).clamped(to: rows)
            if t == 0 && drivesProgress && !columns.isEmpty {
                // Chunks of about progressChunk points: several rows, or part of a band of rows.
                let rowsPerChunk = max(Self.chunkRows, Self.progressChunk / columns.count)
                let columnsPerChunk = min(columns.count, Self.progressChunk / Self.chunkRows)
                var j = mine.lowerBound
                while j < mine.upperBound {
                    let end = min(j + rowsPerChunk, mine.upperBound)
                    var i = columns.lowerBound
                    while i < columns.upperBound {
                        let stop = min(i + columnsPerChunk, columns.upperBound)
                        kernel(t, j..<end, i..<stop)
                        if progressError == nil { do { try exchange.progress() } catch { progressError = error } }
                        i = stop
                    }
                    j = end
                }
            } else if !mine.isEmpty && !columns.isEmpty {
                kernel(t, mine, columns)
            }
            threadSeconds[t] += wallSeconds() - began
        }
        if let progressError { throw progressError }

        timer.start(phases.wait)
        try exchange.finish()

        guard !coversEverything else { return }
        timer.start(phases.boundary)
        pool.run { t in
            let began = wallSeconds()
            for (r, c) in strips(of: threadRows.range(of: t)) { kernel(t, r, c) }
            threadSeconds[t] += wallSeconds() - began
        }
    }

    /// The parts of `rows` (all columns) outside the inner rectangle.
    package func strips(of rows: Range<Int>) -> [(Range<Int>, Range<Int>)] {
        var pieces: [(Range<Int>, Range<Int>)] = []
        func add(_ r: Range<Int>, _ c: Range<Int>) {
            let clamped = r.clamped(to: rows)
            if !clamped.isEmpty && !c.isEmpty { pieces.append((clamped, c)) }
        }
        add(0 ..< innerRows.lowerBound, 0 ..< nx)
        add(innerRows.upperBound ..< ny, 0 ..< nx)
        add(innerRows, 0 ..< innerColumns.lowerBound)
        add(innerRows, innerColumns.upperBound ..< nx)
        return pieces
    }
}
