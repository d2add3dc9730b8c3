@testable import MiniappCore
import Testing

@Suite struct FieldTests {
    /// Every stored row starts at the same place in a cache line, whatever
    /// nx and the halo are, and the row still holds nx + 2 halo points.
    @Test(arguments: [(1, 1), (7, 1), (4096, 1), (4094, 1), (4096, 3), (8192, 16), (1000, 5)])
    func rowsArePaddedToCacheLines(nx: Int, halo: Int) throws {
        let field = try Field(nx: nx, ny: 3, halo: halo)
        #expect(field.stride >= nx + 2 * halo && field.stride < nx + 2 * halo + 8)
        #expect(field.stride % 8 == 0)
        for j in -halo ..< 3 + halo {
            #expect(Int(bitPattern: field.storedRow(j)) % 64 == 0)
        }
        #expect(Field.bytes(nx: nx, ny: 3, halo: halo) == field.stride * field.rows * 8)
        // Owned point (0, 0) sits `halo` points into its row.
        #expect(field.origin == field.storedRow(0) + halo)
    }
}
