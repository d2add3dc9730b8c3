import CHDF5

/// An HDF5 identifier that this object owns: closed exactly once, by
/// `close()` or, failing that, when the last reference goes.
public class Handle: @unchecked Sendable {
    public let id: hid_t
    private let closer: (hid_t) -> herr_t
    public private(set) var isOpen = true

    init(id: hid_t, closer: @escaping (hid_t) -> herr_t) {
        self.id = id
        self.closer = closer
    }

    /// Closes the identifier; a second call does nothing.
    public func close() throws {
        guard isOpen else { return }
        isOpen = false
        try check(closer(id), "closing HDF5 object")
    }

    /// Gives the identifier up without closing it: for a parallel file left
    /// behind by an error, whose closing is a collective call that the other
    /// ranks may never make (the job is about to be aborted).
    public func abandonWithoutClosing() {
        isOpen = false
    }

    deinit {
        if isOpen { _ = closer(id) }
    }
}

/// Scalar element types with a native HDF5 type.
public protocol HDF5Scalar {
    static var hdf5Type: hid_t { get }
}

extension Double: HDF5Scalar {
    public static var hdf5Type: hid_t { chdf5_native_double() }
}

extension Int64: HDF5Scalar {
    public static var hdf5Type: hid_t { chdf5_native_int64() }
}

/// A fixed-length, NUL-padded ASCII/UTF-8 string type (parallel HDF5 cannot
/// write variable-length data collectively).
public final class StringType: Handle, @unchecked Sendable {
    public let length: Int

    public init(length: Int) throws {
        let id = try checkID(H5Tcopy(chdf5_c_s1()), "H5Tcopy")
        self.length = max(1, length)
        super.init(id: id, closer: H5Tclose)
        try check(H5Tset_size(id, self.length), "H5Tset_size")
        try check(H5Tset_strpad(id, H5T_STR_NULLPAD), "H5Tset_strpad")
        try check(H5Tset_cset(id, H5T_CSET_UTF8), "H5Tset_cset")
    }

    /// A variable-length UTF-8 string type: what readers (h5py, netCDF)
    /// take for text. For attributes, whose values live in the object
    /// header; datasets written collectively keep fixed lengths.
    public init(variableLength: ()) throws {
        let id = try checkID(H5Tcopy(chdf5_c_s1()), "H5Tcopy")
        length = 0
        super.init(id: id, closer: H5Tclose)
        try check(H5Tset_size(id, chdf5_variable()), "H5Tset_size")
        try check(H5Tset_cset(id, H5T_CSET_UTF8), "H5Tset_cset")
    }

    /// `strings` packed into `length`-byte NUL-padded records (truncated if longer).
    public func pack(_ strings: [String]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: max(1, strings.count) * length)
        for (k, s) in strings.enumerated() {
            for (i, b) in s.utf8.prefix(length).enumerated() { bytes[k * length + i] = b }
        }
        return bytes
    }
}
