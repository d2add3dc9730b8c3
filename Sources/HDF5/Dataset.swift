import CHDF5

/// An HDF5 dataset. Creating and extending are collective in parallel HDF5;
/// with a collective transfer list, so are reads and writes (a rank with
/// nothing to transfer selects none).
public final class Dataset: Handle, AttributeHolder, @unchecked Sendable {
    public let name: String

    init(id: hid_t, name: String) {
        self.name = name
        super.init(id: id, closer: H5Dclose)
    }

    /// Creates a dataset of `type`; `maxDims` entries of nil are unlimited
    /// (which needs a chunk shape).
    public static func create(in location: some Location, name: String, type: hid_t, dims: [Int],
                              maxDims: [Int?]? = nil, chunk: [Int]? = nil) throws -> Dataset {
        let space = try Dataspace(dims: dims, maxDims: maxDims)
        let creation = try chunk.map { try PropertyList.chunked($0) }
        let id = try checkID(H5Dcreate2(location.id, name, type, space.id, hid_t(H5P_DEFAULT),
                                        creation?.id ?? hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT)),
                             "creating dataset '\(name)'")
        return Dataset(id: id, name: name)
    }

    public static func create<T: HDF5Scalar>(in location: some Location, name: String, of _: T.Type, dims: [Int],
                                             maxDims: [Int?]? = nil, chunk: [Int]? = nil) throws -> Dataset {
        try create(in: location, name: name, type: T.hdf5Type, dims: dims, maxDims: maxDims, chunk: chunk)
    }

    public static func open(in location: some Location, name: String) throws -> Dataset {
        Dataset(id: try checkID(H5Dopen2(location.id, name, hid_t(H5P_DEFAULT)), "opening dataset '\(name)'"),
                name: name)
    }

    /// A fresh copy of the dataset's file dataspace (for selections).
    public func space() throws -> Dataspace {
        Dataspace(owning: try checkID(H5Dget_space(id), "H5Dget_space('\(name)')"))
    }

    public var dims: [Int] { (try? space().dims) ?? [] }

    /// Grows (or shrinks) an extendible dataset (collective).
    public func extend(to dims: [Int]) throws {
        var d = dims.map { hsize_t($0) }
        try check(H5Dset_extent(id, &d), "extending dataset '\(name)'")
    }

    /// Writes from `buffer`, laid out as `memory`, into the `file` selection.
    public func write(_ buffer: UnsafeRawPointer?, type: hid_t, memory: Dataspace, file: Dataspace,
                      transfer: PropertyList?) throws {
        try check(H5Dwrite(id, type, memory.id, file.id, transfer?.id ?? hid_t(H5P_DEFAULT), buffer),
                  "writing dataset '\(name)'")
    }

    public func read(into buffer: UnsafeMutableRawPointer?, type: hid_t, memory: Dataspace, file: Dataspace,
                     transfer: PropertyList?) throws {
        try check(H5Dread(id, type, memory.id, file.id, transfer?.id ?? hid_t(H5P_DEFAULT), buffer),
                  "reading dataset '\(name)'")
    }

    /// Writes `values` into the block `start ..< start + count` of the file
    /// dataset (`values.count` must equal the block size); `values == nil`
    /// takes part in the collective call without data.
    public func write<T: HDF5Scalar>(_ values: [T]?, start: [Int], count: [Int], transfer: PropertyList?) throws {
        let file = try space()
        if let values {
            try file.select(start: start, count: count)
            let memory = try Dataspace(dims: [max(1, values.count)])
            if values.isEmpty { try memory.selectNone(); try file.selectNone() }
            try values.withUnsafeBytes {
                try write($0.baseAddress, type: T.hdf5Type, memory: memory, file: file, transfer: transfer)
            }
        } else {
            try file.selectNone()
            let memory = try Dataspace(dims: [1])
            try memory.selectNone()
            try write(nil, type: T.hdf5Type, memory: memory, file: file, transfer: transfer)
        }
    }

    /// Reads the block `start ..< start + count` (the whole dataset by default).
    public func read<T: HDF5Scalar>(_ type: T.Type, start: [Int]? = nil, count: [Int]? = nil,
                                    transfer: PropertyList? = nil) throws -> [T] {
        let file = try space()
        let shape = count ?? file.dims
        if let start { try file.select(start: start, count: shape) }
        let total = shape.reduce(1, *)
        let memory = try Dataspace(dims: [max(1, total)])
        if total == 0 { try memory.selectNone(); try file.selectNone() }
        var values = [T](unsafeUninitializedCapacity: total) { _, n in n = total }
        try values.withUnsafeMutableBytes {
            try read(into: $0.baseAddress, type: T.hdf5Type, memory: memory, file: file, transfer: transfer)
        }
        return values
    }
}
