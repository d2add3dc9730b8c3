import CMPI

/// Swift scalar types with a predefined MPI datatype.
public protocol MPIScalar {
    static var mpiDatatype: MPI_Datatype { get }
}

extension Double: MPIScalar {
    public static var mpiDatatype: MPI_Datatype { cmpi_double() }
}
extension Int64: MPIScalar {
    public static var mpiDatatype: MPI_Datatype { cmpi_int64() }
}
extension Int32: MPIScalar {
    public static var mpiDatatype: MPI_Datatype { cmpi_int32() }
}
extension UInt8: MPIScalar {
    public static var mpiDatatype: MPI_Datatype { cmpi_byte() }
}

/// A committed derived datatype, freed when the last reference goes.
public final class Datatype: @unchecked Sendable {
    public let handle: MPI_Datatype

    /// `count` blocks of `blockLength` elements, `stride` elements apart
    /// (MPI_Type_vector): a column strip of a row-major array.
    public init<T: MPIScalar>(vectorOf _: T.Type, count: Int, blockLength: Int, stride: Int) throws {
        var type: MPI_Datatype? = cmpi_datatype_null()
        try check(MPI_Type_vector(mpiCount(count, "MPI_Type_vector"), mpiCount(blockLength, "MPI_Type_vector"),
                                  mpiCount(stride, "MPI_Type_vector"), T.mpiDatatype, &type), "MPI_Type_vector")
        try check(MPI_Type_commit(&type), "MPI_Type_commit")
        handle = type!
    }

    deinit {
        guard !MPIRuntime.isFinalized else { return }
        var type: MPI_Datatype? = handle
        MPI_Type_free(&type)
    }
}

/// Reduction operations.
public enum ReductionOp: Sendable {
    case sum, max, min

    var handle: MPI_Op {
        switch self {
        case .sum: cmpi_op_sum()
        case .max: cmpi_op_max()
        case .min: cmpi_op_min()
        }
    }
}
