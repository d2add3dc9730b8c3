import CMPI

/// A failed MPI call, with the library's own description of the error code.
public struct MPIError: Error, CustomStringConvertible {
    public let function: String
    public let code: Int32

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        var length: Int32 = 0
        if MPI_Error_string(code, &buffer, &length) == cmpi_success() {
            let text = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // MPICH's strings may hold an error stack of several lines: one message is one line.
            return "\(function) failed: \(text.split(whereSeparator: \.isNewline).joined(separator: " "))"
        }
        return "\(function) failed with MPI error code \(code)"
    }
}

/// Throws `MPIError` unless `code` is MPI_SUCCESS. Communicators created here
/// use MPI_ERRORS_RETURN, so failures reach this check instead of aborting.
@inline(__always)
func check(_ code: Int32, _ function: @autoclosure () -> String) throws {
    if code != cmpi_success() { throw MPIError(function: function(), code: code) }
}

/// Converts a count to the `int` MPI expects, refusing silently truncated sizes.
@inline(__always)
func mpiCount(_ n: Int, _ function: String) throws -> Int32 {
    guard let count = Int32(exactly: n) else {
        throw MPIError(function: "\(function) (count \(n) does not fit in an MPI int)", code: cmpi_err_count())
    }
    return count
}
