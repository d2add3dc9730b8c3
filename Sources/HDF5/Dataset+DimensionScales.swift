import CHDF5

/// Dimension scales (HDF5's high-level library): datasets that label the
/// dimensions of others, which netCDF-4 readers (xarray, h5netcdf, ncdump)
/// take for named dimensions with coordinates. In parallel HDF5 these write
/// attributes: every rank makes the same calls.
extension Dataset {
    /// Whether this build has them (scripts/configure found libhdf5_hl).
    public static var dimensionScalesAvailable: Bool { chdf5_has_dimension_scales() == 1 }

    /// Makes this dataset the scale of a dimension called `dimension`.
    public func makeDimensionScale(named dimension: String) throws {
        try check(chdf5_set_scale(id, dimension), "H5DSset_scale('\(name)')")
    }

    /// Labels dimension `index` of this dataset with `scale`.
    public func attach(_ scale: Dataset, toDimension index: Int) throws {
        try check(chdf5_attach_scale(id, scale.id, UInt32(index)), "H5DSattach_scale('\(scale.name)' to '\(name)')")
    }
}
