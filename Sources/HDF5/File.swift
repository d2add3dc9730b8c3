import CHDF5
import MPI

/// Something that carries attributes: a file, a group or a dataset.
public protocol AttributeHolder: AnyObject {
    var id: hid_t { get }
}

/// Something that holds datasets and groups: a file or a group.
public protocol Location: AttributeHolder {}

/// An HDF5 file opened for parallel access by every rank of a communicator.
/// Creating, opening and closing are collective.
public final class File: Handle, Location, @unchecked Sendable {
    public let path: String

    private init(id: hid_t, path: String) {
        self.path = path
        super.init(id: id, closer: H5Fclose)
    }

    /// Creates `path` collectively on `communicator`, replacing an existing file.
    public static func create(_ path: String, communicator: Communicator) throws -> File {
        let access = try PropertyList.parallelFileAccess(communicator)
        let id = try checkID(H5Fcreate(path, chdf5_acc_trunc(), hid_t(H5P_DEFAULT), access.id),
                             "creating HDF5 file '\(path)'")
        return File(id: id, path: path)
    }

    /// Creates `path` for this process alone (no MPI needed), replacing a file.
    public static func createSerial(_ path: String) throws -> File {
        let id = try checkID(H5Fcreate(path, chdf5_acc_trunc(), hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT)),
                             "creating HDF5 file '\(path)'")
        return File(id: id, path: path)
    }

    /// Opens an existing file collectively (see `PropertyList.parallelFileAccess`
    /// for `collectiveMetadata`).
    public static func open(_ path: String, communicator: Communicator, writable: Bool = false,
                            collectiveMetadata: Bool = true) throws -> File {
        let access = try PropertyList.parallelFileAccess(communicator, collectiveMetadata: collectiveMetadata)
        let id = try checkID(H5Fopen(path, writable ? chdf5_acc_rdwr() : chdf5_acc_rdonly(), access.id),
                             "opening HDF5 file '\(path)'")
        return File(id: id, path: path)
    }

    /// Opens an existing file read-only for this process alone (no MPI).
    public static func openSerial(_ path: String) throws -> File {
        let id = try checkID(H5Fopen(path, chdf5_acc_rdonly(), hid_t(H5P_DEFAULT)), "opening HDF5 file '\(path)'")
        return File(id: id, path: path)
    }

    /// Writes buffered data and metadata to the file (collective).
    public func flush() throws {
        try check(H5Fflush(id, H5F_SCOPE_GLOBAL), "H5Fflush('\(path)')")
    }

    /// Whether `path` is an HDF5 file (without opening it).
    public static func isHDF5(_ path: String) -> Bool {
        H5Fis_hdf5(path) > 0
    }
}

/// A group in a file.
public final class Group: Handle, Location, @unchecked Sendable {
    init(id: hid_t) { super.init(id: id, closer: H5Gclose) }
}

extension Location {
    public func createGroup(_ name: String) throws -> Group {
        Group(id: try checkID(H5Gcreate2(id, name, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT)),
                              "creating group '\(name)'"))
    }

    public func openGroup(_ name: String) throws -> Group {
        Group(id: try checkID(H5Gopen2(id, name, hid_t(H5P_DEFAULT)), "opening group '\(name)'"))
    }

    /// Whether a link (dataset or group) of this name exists here.
    public func contains(_ name: String) -> Bool {
        H5Lexists(id, name, hid_t(H5P_DEFAULT)) > 0
    }
}
