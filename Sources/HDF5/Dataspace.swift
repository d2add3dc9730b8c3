import CHDF5

/// An HDF5 dataspace: the shape of a dataset or of a memory buffer, with a selection.
public final class Dataspace: Handle, @unchecked Sendable {
    /// A simple dataspace; `maxDims` entries of nil are unlimited.
    public init(dims: [Int], maxDims: [Int?]? = nil) throws {
        var current = dims.map { hsize_t($0) }
        var maximum = (maxDims ?? dims.map { $0 }).map { $0.map { hsize_t($0) } ?? chdf5_unlimited() }
        let id = try checkID(H5Screate_simple(Int32(dims.count), &current, &maximum), "H5Screate_simple")
        super.init(id: id, closer: H5Sclose)
    }

    /// A scalar dataspace (one element), for attributes.
    public init(scalar: Void) throws {
        super.init(id: try checkID(H5Screate(H5S_SCALAR), "H5Screate"), closer: H5Sclose)
    }

    init(owning id: hid_t) {
        super.init(id: id, closer: H5Sclose)
    }

    /// The current dimensions.
    public var dims: [Int] {
        let rank = Int(H5Sget_simple_extent_ndims(id))
        guard rank > 0 else { return [] }
        var d = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(id, &d, nil)
        return d.map { Int($0) }
    }

    /// Selects the block `start ..< start + count` (replacing any selection).
    public func select(start: [Int], count: [Int]) throws {
        var s = start.map { hsize_t($0) }
        var c = count.map { hsize_t($0) }
        try check(H5Sselect_hyperslab(id, H5S_SELECT_SET, &s, nil, &c, nil), "H5Sselect_hyperslab")
    }

    /// Selects nothing: how a rank takes part in a collective call without data.
    public func selectNone() throws {
        try check(H5Sselect_none(id), "H5Sselect_none")
    }
}
