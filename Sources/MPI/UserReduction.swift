import CMPI

/// A reduction operation of our own (MPI_Op_create), freed when the last
/// reference goes. MPI calls `function(in, inout, count, datatype)` to
/// combine `count` items of `in` into `inout`; it may split a message only
/// between items, so a reduction that must see a message whole is given one
/// item of a contiguous datatype (`Datatype(contiguousOf:count:)`).
public final class UserReduction: @unchecked Sendable {
    let handle: cmpi_op

    /// `commutative`: MPI may then combine the ranks' items in any order.
    public init(commutative: Bool, _ function: cmpi_user_function) throws {
        var op = cmpi_op_null()
        try check(cmpi_op_create(function, commutative ? 1 : 0, &op), "MPI_Op_create")
        handle = op
    }

    deinit {
        guard !MPIRuntime.isFinalized else { return }
        var op = handle
        cmpi_op_free(&op)
    }
}
