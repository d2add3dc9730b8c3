import CHDF5
import CMPI
import MPI

/// An HDF5 property list.
public final class PropertyList: Handle, @unchecked Sendable {
    init(class cls: hid_t, _ what: String) throws {
        super.init(id: try checkID(H5Pcreate(cls), "H5Pcreate(\(what))"), closer: H5Pclose)
    }

    /// File access through MPI-IO on `communicator` (parallel HDF5).
    ///
    /// With `collectiveMetadata`, metadata reads are done once and broadcast,
    /// and metadata writes are collective: fewer small I/O operations at
    /// scale, but every metadata read becomes a collective call. Without it,
    /// each rank reads metadata itself, so a rank that stops reading early
    /// (a corrupt file) cannot leave the others waiting.
    public static func parallelFileAccess(_ communicator: Communicator, collectiveMetadata: Bool = true) throws -> PropertyList {
        let list = try PropertyList(class: chdf5_file_access(), "file access")
        try check(H5Pset_fapl_mpio(list.id, communicator.handle, cmpi_info_null()), "H5Pset_fapl_mpio")
        if collectiveMetadata {
            try check(H5Pset_all_coll_metadata_ops(list.id, true), "H5Pset_all_coll_metadata_ops")
            try check(H5Pset_coll_metadata_write(list.id, true), "H5Pset_coll_metadata_write")
        }
        return list
    }

    /// Raw-data transfer in collective MPI-IO mode.
    public static func collectiveTransfer() throws -> PropertyList {
        let list = try PropertyList(class: chdf5_dataset_xfer(), "dataset transfer")
        try check(H5Pset_dxpl_mpio(list.id, H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio")
        return list
    }

    /// Dataset creation with the given chunk shape (needed for extendible datasets).
    public static func chunked(_ chunk: [Int]) throws -> PropertyList {
        let list = try PropertyList(class: chdf5_dataset_create(), "dataset create")
        var dims = chunk.map { hsize_t(max(1, $0)) }
        try check(H5Pset_chunk(list.id, Int32(dims.count), &dims), "H5Pset_chunk")
        return list
    }

    /// Whether the last transfer with this list really went collective.
    public var wasCollective: Bool {
        var mode = H5D_MPIO_NO_COLLECTIVE
        guard H5Pget_mpio_actual_io_mode(id, &mode) >= 0 else { return false }
        return mode != H5D_MPIO_NO_COLLECTIVE
    }
}
