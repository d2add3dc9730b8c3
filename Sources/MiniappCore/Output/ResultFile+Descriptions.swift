import HDF5

/// What readers of a results file need besides the numbers: coordinates,
/// dimension scales that make `/fields` a netCDF-4 group (xarray opens it
/// with named dimensions time, y, x), and a long name and units for every
/// field and series.
extension ResultFile {
    /// Long name and units (CF style: "1" for a dimensionless quantity; the
    /// problems are written in dimensionless form) of the datasets a run writes.
    static let descriptions: [String: (longName: String, units: String)] = [
        "fields/u": ("temperature", "1"),
        "fields/density": ("density of the cells", "1"),
        "fields/step": ("time step of the snapshot", "1"),
        "fields/time": ("time of the snapshot", "1"),
        "fields/x": ("x coordinate of the grid point (TeaLeaf: of the cell centre)", "1"),
        "fields/y": ("y coordinate of the grid point (TeaLeaf: of the cell centre)", "1"),
        "diagnostics/step": ("time step", "1"),
        "diagnostics/time": ("time", "1"),
        "diagnostics/total": ("total heat, hx hy sum(u)", "1"),
        "diagnostics/min": ("smallest u", "1"),
        "diagnostics/max": ("largest u", "1"),
        "diagnostics/l2_error": ("L2 error against the exact solution of the discrete scheme", "1"),
        "diagnostics/linf_error": ("maximum error against the exact solution of the discrete scheme", "1"),
        "diagnostics/l2_error_continuum": ("L2 error against the solution of the PDE", "1"),
        "diagnostics/linf_error_continuum": ("maximum error against the solution of the PDE", "1"),
        "diagnostics/iterations": ("solver iterations of the step", "1"),
        "diagnostics/inner_iterations": ("inner (Chebyshev) steps of PPCG", "1"),
        "diagnostics/residual": ("final relative residual ||r|| / ||r0||", "1"),
        "diagnostics/true_residual": ("recomputed relative residual ||u0 - A u|| / ||r0||", "1"),
        "diagnostics/converged": ("1 where the solver reached eps", "1"),
        "diagnostics/solve_seconds": ("time of the solve", "s"),
        "summary/step": ("time step of the field summary", "1"),
        "summary/time": ("time of the field summary", "1"),
        "summary/volume": ("volume", "1"),
        "summary/mass": ("mass", "1"),
        "summary/density": ("mean density, mass / volume", "1"),
        "summary/energy": ("internal energy, sum(mass energy)", "1"),
        "summary/temperature": ("temperature sum, sum(mass u)", "1"),
        "results/value": ("midpoint sum", "1"),
        "results/exact": ("exact integral", "1"),
        "results/error": ("midpoint sum - exact integral", "1"),
        "results/compute_seconds": ("median time of the local computation", "s"),
        "results/reduction_seconds": ("median time of the reduction", "s"),
    ]

    /// Writes the coordinates of `grid` (from the XDMF description's origin
    /// and spacing) and the dimension scales of /fields, and describes every
    /// dataset (collective).
    func describeDatasets(_ grid: XDMFDescription?) throws {
        let file = try open()
        try Self.collective("describing the datasets (collective HDF5)") {
            if let grid {
                let xs = (0..<grid.nx).map { grid.origin.x + Double($0) * grid.spacing.x }
                let ys = (0..<grid.ny).map { grid.origin.y + Double($0) * grid.spacing.y }
                for (name, values) in [("fields/x", xs), ("fields/y", ys)] {
                    let dataset = try Dataset.create(in: file, name: name, of: Double.self, dims: [values.count])
                    try dataset.write(communicator.isRoot ? values : nil, start: [0], count: [values.count],
                                      transfer: transfer)
                }
                if Dataset.dimensionScalesAvailable {
                    let scales = try ["time", "y", "x"].map { dimension in
                        let scale = try Dataset.open(in: file, name: "fields/\(dimension)")
                        try scale.makeDimensionScale(named: dimension)
                        return scale
                    }
                    let (time, y, x) = (scales[0], scales[1], scales[2])
                    for name in grid.snapshotFields {
                        let field = try Dataset.open(in: file, name: "fields/\(name)")
                        for (index, scale) in [time, y, x].enumerated() { try field.attach(scale, toDimension: index) }
                    }
                    for name in grid.staticFields {
                        let field = try Dataset.open(in: file, name: "fields/\(name)")
                        for (index, scale) in [y, x].enumerated() { try field.attach(scale, toDimension: index) }
                    }
                    try Dataset.open(in: file, name: "fields/step").attach(time, toDimension: 0)
                }
            }
            for (path, description) in Self.descriptions.sorted(by: { $0.key < $1.key }) where file.contains(path) {
                let dataset = try Dataset.open(in: file, name: path)
                try dataset.setAttribute("long_name", description.longName)
                try dataset.setAttribute("units", description.units)
            }
        }
    }
}
