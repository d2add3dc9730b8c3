import CMPI

/// Swift scalar types with a predefined MPI datatype.
public protocol MPIScalar {
    static var mpiDatatype: cmpi_datatype { get }
}

extension Double: MPIScalar {
    public static var mpiDatatype: cmpi_datatype { cmpi_double() }
}
extension Int64: MPIScalar {
    public static var mpiDatatype: cmpi_datatype { cmpi_int64() }
}
extension Int32: MPIScalar {
    public static var mpiDatatype: cmpi_datatype { cmpi_int32() }
}
extension UInt8: MPIScalar {
    public static var mpiDatatype: cmpi_datatype { cmpi_byte() }
}

/// The type of the items of a message: a predefined one (borrowed), or a
/// committed derived one, freed when the last reference goes.
public final class Datatype: @unchecked Sendable {
    let handle: cmpi_datatype
    private let owned: Bool

    /// The predefined datatype of `T`.
    public init<T: MPIScalar>(_: T.Type) {
        handle = T.mpiDatatype
        owned = false
    }

    /// `count` blocks of `blockLength` elements, `stride` elements apart
    /// (MPI_Type_vector): a column strip of a row-major array.
    public init<T: MPIScalar>(vectorOf _: T.Type, count: Int, blockLength: Int, stride: Int) throws {
        let (n, length, step) = try (mpiCount(count, "MPI_Type_vector"), mpiCount(blockLength, "MPI_Type_vector"),
                                     mpiCount(stride, "MPI_Type_vector"))
        handle = try Self.committed("MPI_Type_vector") { cmpi_type_vector(n, length, step, T.mpiDatatype, $0) }
        owned = true
    }

    /// `count` consecutive elements as one item (MPI_Type_contiguous): a
    /// message that a user-defined reduction must receive whole.
    public init<T: MPIScalar>(contiguousOf _: T.Type, count: Int) throws {
        let n = try mpiCount(count, "MPI_Type_contiguous")
        handle = try Self.committed("MPI_Type_contiguous") { cmpi_type_contiguous(n, T.mpiDatatype, $0) }
        owned = true
    }

    /// A derived datatype made by `create` (the MPI call `name`), committed.
    private static func committed(_ name: String, _ create: (UnsafeMutablePointer<cmpi_datatype>) -> Int32) throws
        -> cmpi_datatype {
        var type = cmpi_datatype_null()
        try check(create(&type), name)
        try check(cmpi_type_commit(&type), "MPI_Type_commit")
        return type
    }

    deinit {
        guard owned, !MPIRuntime.isFinalized else { return }
        var type = handle
        cmpi_type_free(&type)
    }
}

/// Reduction operations.
public enum ReductionOp: Sendable {
    case sum, max, min

    var handle: cmpi_op {
        switch self {
        case .sum: cmpi_op_sum()
        case .max: cmpi_op_max()
        case .min: cmpi_op_min()
        }
    }
}
