import CHDF5

/// Attributes on files, groups and datasets. In parallel HDF5 writing an
/// attribute is collective: every rank must pass the same value.
extension AttributeHolder {
    public func setAttribute<T: HDF5Scalar>(_ name: String, _ values: [T]) throws {
        let space = values.count == 1 ? try Dataspace(scalar: ()) : try Dataspace(dims: [values.count])
        try values.withUnsafeBytes { try writeAttribute(name, type: T.hdf5Type, space: space, data: $0.baseAddress!) }
    }

    public func setAttribute<T: HDF5Scalar>(_ name: String, _ value: T) throws {
        try setAttribute(name, [value])
    }

    /// A variable-length UTF-8 string: h5py reads it as str.
    public func setAttribute(_ name: String, _ value: String) throws {
        let type = try StringType(variableLength: ())
        let space = try Dataspace(scalar: ())
        try value.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            try withUnsafePointer(to: &pointer) { try writeAttribute(name, type: type.id, space: space, data: $0) }
        }
    }

    /// Creates (or replaces) an attribute and writes `data` into it.
    private func writeAttribute(_ name: String, type: hid_t, space: Dataspace, data: UnsafeRawPointer) throws {
        if H5Aexists(id, name) > 0 { try check(H5Adelete(id, name), "deleting attribute '\(name)'") }
        let attribute = try checkID(H5Acreate2(id, name, type, space.id, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT)),
                                    "creating attribute '\(name)'")
        defer { H5Aclose(attribute) }
        try check(H5Awrite(attribute, type, data), "writing attribute '\(name)'")
    }

    public func hasAttribute(_ name: String) -> Bool { H5Aexists(id, name) > 0 }

    public func attribute<T: HDF5Scalar>(_ name: String, as _: T.Type) throws -> [T] {
        let attribute = try checkID(H5Aopen(id, name, hid_t(H5P_DEFAULT)), "opening attribute '\(name)'")
        defer { H5Aclose(attribute) }
        let space = Dataspace(owning: try checkID(H5Aget_space(attribute), "H5Aget_space"))
        let count = max(1, space.dims.reduce(1, *))
        var values = [T](unsafeUninitializedCapacity: count) { _, n in n = count }
        try values.withUnsafeMutableBytes {
            try check(H5Aread(attribute, T.hdf5Type, $0.baseAddress), "reading attribute '\(name)'")
        }
        return values
    }

    public func stringAttribute(_ name: String) throws -> String {
        let attribute = try checkID(H5Aopen(id, name, hid_t(H5P_DEFAULT)), "opening attribute '\(name)'")
        defer { H5Aclose(attribute) }
        let fileType = try checkID(H5Aget_type(attribute), "H5Aget_type")
        defer { H5Tclose(fileType) }
        guard H5Tget_class(fileType) == H5T_STRING else {
            throw HDF5Error(operation: "reading attribute '\(name)'", detail: "not a string")
        }
        if H5Tis_variable_str(fileType) > 0 {
            let memoryType = try StringType(variableLength: ())
            var pointer: UnsafeMutablePointer<CChar>? = nil
            try check(H5Aread(attribute, memoryType.id, &pointer), "reading attribute '\(name)'")
            defer { if let pointer { H5free_memory(pointer) } }
            return pointer.map { String(cString: $0) } ?? ""
        }
        let length = H5Tget_size(fileType)
        var bytes = [UInt8](repeating: 0, count: length)
        try check(H5Aread(attribute, fileType, &bytes), "reading attribute '\(name)'")
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}
