@testable import Kernels
import Testing
import TestSupport

@Suite struct HeatWavefrontTests {
    /// A block of nx x ny points with a halo of `halo`, rows padded to whole
    /// cache lines and 64-byte aligned, as `Field` lays them out; random values
    /// everywhere (the halo too: open sides are read from it).
    final class Block {
        let nx: Int, ny: Int, halo: Int, stride: Int
        let storage: UnsafeMutablePointer<Double>
        var count: Int { stride * (ny + 2 * halo) }
        var origin: UnsafeMutablePointer<Double> { storage + halo * stride + halo }

        init(nx: Int, ny: Int, halo: Int, seed: UInt64?) {
            self.nx = nx; self.ny = ny; self.halo = halo
            stride = (nx + 2 * halo + 7) / 8 * 8
            storage = UnsafeMutableRawPointer.allocate(byteCount: stride * (ny + 2 * halo) * 8, alignment: 64)
                .bindMemory(to: Double.self, capacity: stride * (ny + 2 * halo))
            var rng = SplitMix64(state: seed ?? 0)
            for k in 0..<count { storage[k] = seed == nil ? .nan : Double.random(in: -1...1, using: &rng) }
        }

        deinit { storage.deallocate() }

        var values: [UInt64] { (0..<count).map { storage[$0].bitPattern } }
    }

    /// `steps` steps by the wavefront with column tiles of `tile` (0: whole
    /// rows), threads' row blocks `rowBlocks`; the bits of the output block.
    func wavefront(_ u: Block, open: (Bool, Bool, Bool, Bool), steps: Int, tile: Int, rowBlocks: [Range<Int>],
                   streaming: Bool, prefetch: Bool) -> [UInt64] {
        let v = Block(nx: u.nx, ny: u.ny, halo: u.halo, seed: nil)
        let geometry = WavefrontGeometry(nx: u.nx, ny: u.ny, stride: u.stride, open: open, boundaryValue: 0.375,
                                         rx: 0.21, ry: 0.17)
        let columns = tile > 0 ? columnTiles(nx: u.nx, width: tile).map(\.count).max()! : u.nx
        // One thread's buffers, used again and again as across passes: other tiles' values stay in them.
        let buffers = WavefrontBuffers(nx: columns, halo: u.halo, maxSteps: steps, boundaryValue: 0.375)
        for rows in rowBlocks {
            heatWavefront(geometry, from: u.origin, to: v.origin, ownedRows: rows, steps: steps, buffers: buffers,
                          streaming: streaming, prefetch: prefetch, tileColumns: tile)
        }
        return v.values
    }

    /// Column tiles (with their redundant columns, ring rows as wide as a
    /// tile and ghost columns reset at physical sides) give the bits of whole
    /// rows, for open and physical sides, several threads' row blocks, every
    /// store kind, tiles narrower than the steps' reach (12 steps, tiles of 8:
    /// the second tile reads the west ghost column) and tiles that do not
    /// divide the block.
    @Test(arguments: [3, 8, 12])
    func columnTilesAreBitwiseWholeRows(steps: Int) {
        let u = Block(nx: 83, ny: 29, halo: steps, seed: UInt64(steps))
        let sides = [(false, false, false, false), (true, true, true, true), (true, false, false, true), (false, true, true, false)]
        for open in sides {
            for (streaming, prefetch) in [(false, false), (true, true)] {
                let blocks = [0..<29, 0..<10, 10..<29]
                let whole = wavefront(u, open: open, steps: steps, tile: 0, rowBlocks: blocks, streaming: streaming,
                                      prefetch: prefetch)
                for tile in [8, 16, 24, 40] {
                    let tiled = wavefront(u, open: open, steps: steps, tile: tile, rowBlocks: blocks, streaming: streaming,
                                          prefetch: prefetch)
                    let differing = zip(tiled, whole).filter { $0 != $1 }.count
                    #expect(differing == 0, "open \(open), tile \(tile), streaming \(streaming)")
                }
            }
        }
    }

    @Test func tilesCoverTheColumnsOnWholeCacheLines() {
        for nx in [1, 7, 8, 9, 100, 1000, 4096, 4100] {
            for width in [0, 8, 64, 100, 1024, 5000] {
                let tiles = columnTiles(nx: nx, width: width)
                #expect(tiles.first?.lowerBound == 0 && tiles.last?.upperBound == nx)
                #expect(zip(tiles, tiles.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                #expect(tiles.dropLast().allSatisfy { $0.upperBound % 8 == 0 }, "tile edges on cache lines")
                if width == 0 || width >= nx {
                    #expect(tiles.count == 1)
                } else {
                    // As few tiles as the width allows (rounding to cache lines may save one), all but the last as wide.
                    #expect(tiles.count <= (nx + width - 1) / width && tiles.allSatisfy { $0.count <= width + 7 })
                    #expect(Set(tiles.dropLast().map(\.count)).count == 1 && tiles.last!.count <= tiles[0].count)
                }
            }
        }
    }

    @Test func widestTileFitsItsBudget() {
        for (budget, halo) in [(1 << 20, 16), (1 << 20, 4), (1 << 19, 8), (100_000, 2)] {
            let width = WavefrontBuffers.widestTile(fittingIn: budget, halo: halo, maxSteps: halo)
            #expect(width > 0 && width % 8 == 0)
            #expect(WavefrontBuffers.bytes(nx: width, halo: halo, maxSteps: halo) <= budget)
            #expect(WavefrontBuffers.bytes(nx: width + 8, halo: halo, maxSteps: halo) > budget)
        }
        #expect(WavefrontBuffers.widestTile(fittingIn: 1000, halo: 16, maxSteps: 16) == 0)
    }

    /// The prefetches for the next band walk the tile's span of each row:
    /// `segmentLines` lines, then on to the next row.
    @Test func prefetchAheadWalksRowSegments() {
        let origin = UnsafeRawPointer(bitPattern: 1 << 20)!
        let ahead = PrefetchAhead(origin: origin, first: 5, lines: 7, segmentLines: 3, segmentBytes: 4096)
        var cursor = ahead.cursor()
        var visited: [Int] = []
        while cursor.left > 0 {
            visited.append(cursor.line - origin)
            cursor.prefetchNext()
        }
        // Lines 5...11 of segments of three: (1, 2), (2, 0...2), (3, 0...2).
        #expect(visited == [4096 + 128, 8192, 8192 + 64, 8192 + 128, 12288, 12288 + 64, 12288 + 128])
    }
}
