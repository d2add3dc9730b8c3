import CHDF5

/// A failed HDF5 call, with the most specific message of HDF5's error stack.
public struct HDF5Error: Error, CustomStringConvertible {
    public let operation: String
    public let detail: String

    public var description: String {
        detail.isEmpty ? "\(operation) failed" : "\(operation) failed: \(detail)"
    }

    /// Reads (and clears) the current error stack.
    public init(operation: String, detail: String) {
        self.operation = operation
        self.detail = detail
    }

    static func current(_ operation: String) -> HDF5Error {
        final class Messages { var lines: [String] = [] }
        let messages = Messages()
        withExtendedLifetime(messages) {
            let context = Unmanaged.passUnretained(messages).toOpaque()
            H5Ewalk2(hid_t(H5E_DEFAULT), H5E_WALK_DOWNWARD, { _, entry, context in
                guard let entry, let context, let desc = entry.pointee.desc else { return 0 }
                let messages = Unmanaged<Messages>.fromOpaque(context).takeUnretainedValue()
                messages.lines.append(String(cString: desc))
                return 0
            }, context)
        }
        H5Eclear2(hid_t(H5E_DEFAULT))
        // The innermost entries say what went wrong at the system level
        // (e.g. "unable to open file: ... errno = 13, error message = 'Permission denied'").
        // MPICH's MPI-IO messages carry an error stack of several lines: one message is one line.
        let useful = messages.lines.map { $0.split(whereSeparator: \.isNewline).joined(separator: " ") }
            .filter { !$0.isEmpty }
        return HDF5Error(operation: operation, detail: useful.suffix(2).reversed().joined(separator: "; "))
    }
}

/// Library-wide settings.
public enum HDF5Library {
    /// Stops HDF5 from printing its error stack to stderr: failures are
    /// reported once, by the caller, with `HDF5Error`.
    public static func silenceErrorPrinting() {
        H5Eset_auto2(hid_t(H5E_DEFAULT), nil, nil)
    }

    public static var version: String {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        H5get_libversion(&major, &minor, &release)
        return "\(major).\(minor).\(release)"
    }
}

@inline(__always)
func checkID(_ id: hid_t, _ operation: @autoclosure () -> String) throws -> hid_t {
    if id < 0 { throw HDF5Error.current(operation()) }
    return id
}

@inline(__always)
func check(_ status: herr_t, _ operation: @autoclosure () -> String) throws {
    if status < 0 { throw HDF5Error.current(operation()) }
}
