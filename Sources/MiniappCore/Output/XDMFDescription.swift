import Foundation

/// The XDMF sidecar (`heat.xmf` next to `heat.h5`) that lets ParaView and
/// VisIt open the snapshots of /fields/u as a time series on the grid
/// (a 2DCoRectMesh: origin and spacing, node-centred values).
public struct XDMFDescription: Sendable {
    public let fileName: String   // the HDF5 file, relative to the sidecar
    public let nx: Int, ny: Int
    public let origin: (x: Double, y: Double)
    public let spacing: (x: Double, y: Double)
    /// Fields with one value per snapshot (`/fields/<name>` [snapshots, ny, nx]).
    public let snapshotFields: [String]
    /// Fields that do not change (`/fields/<name>` [ny, nx]), shown with every snapshot.
    public let staticFields: [String]

    public init(h5Path: String, nx: Int, ny: Int, origin: (x: Double, y: Double), spacing: (x: Double, y: Double),
                snapshotFields: [String] = ["u"], staticFields: [String] = []) {
        fileName = (h5Path as NSString).lastPathComponent
        self.nx = nx; self.ny = ny
        self.origin = origin; self.spacing = spacing
        self.snapshotFields = snapshotFields
        self.staticFields = staticFields
    }

    public static func sidecarPath(for h5Path: String) -> String {
        let base = h5Path.hasSuffix(".h5") ? String(h5Path.dropLast(3)) : h5Path
        return base + ".xmf"
    }

    /// XDMF 2 with one uniform grid per snapshot in a temporal collection.
    /// Dimensions are listed slowest first (y, then x), as are origin and spacing.
    func document(snapshots: [(step: Int, time: Double)]) -> String {
        let total = snapshots.count
        var grids = ""
        for (k, snapshot) in snapshots.enumerated() {
            var attributes = ""
            for name in snapshotFields {
                attributes += """
                        <Attribute Name="\(name)" AttributeType="Scalar" Center="Node">
                          <DataItem ItemType="HyperSlab" Dimensions="\(ny) \(nx)" Type="HyperSlab">
                            <DataItem Dimensions="3 3" Format="XML">\(k) 0 0  1 1 1  1 \(ny) \(nx)</DataItem>
                            <DataItem Dimensions="\(total) \(ny) \(nx)" NumberType="Float" Precision="8" Format="HDF">\(fileName):/fields/\(name)</DataItem>
                          </DataItem>
                        </Attribute>

                """
            }
            for name in staticFields {
                attributes += """
                        <Attribute Name="\(name)" AttributeType="Scalar" Center="Node">
                          <DataItem Dimensions="\(ny) \(nx)" NumberType="Float" Precision="8" Format="HDF">\(fileName):/fields/\(name)</DataItem>
                        </Attribute>

                """
            }
            grids += """
                  <Grid Name="step \(snapshot.step)" GridType="Uniform">
                    <Time Value="\(snapshot.time)"/>
                    <Topology TopologyType="2DCoRectMesh" Dimensions="\(ny) \(nx)"/>
                    <Geometry GeometryType="ORIGIN_DXDY">
                      <DataItem Dimensions="2" NumberType="Float" Precision="8" Format="XML">\(origin.y) \(origin.x)</DataItem>
                      <DataItem Dimensions="2" NumberType="Float" Precision="8" Format="XML">\(spacing.y) \(spacing.x)</DataItem>
                    </Geometry>
            \(attributes)      </Grid>

            """
        }
        return """
            <?xml version="1.0" ?>
            <!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>
            <Xdmf Version="2.0">
              <Domain>
                <Grid Name="\(snapshotFields.first ?? "fields")" GridType="Collection" CollectionType="Temporal">
            \(grids)    </Grid>
              </Domain>
            </Xdmf>

            """
    }
}
