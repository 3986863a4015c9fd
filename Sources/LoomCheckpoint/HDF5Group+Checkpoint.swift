// LoomHDF5 helpers the checkpoint code needs: growing series and a recursive dataset walk.

import LoomHDF5

extension HDF5Group {
    // MARK: Series

    /// Writes `values` as a growing (chunked, unlimited) 1-D float64 series at `path`.
    func writeSeries(_ values: [Double], to path: String) throws(HDF5Error) {
        try createSeries(Double.self, path)
        if !values.isEmpty { try append(values, toSeries: path) }
    }

    // MARK: Walking

    /// Relative paths of every dataset below the group at `path`, depth first, sorted per level.
    func datasets(under path: String) throws(HDF5Error) -> [String] {
        var out: [String] = []
        for child in try children(path) {
            let full = path + "/" + child
            if isGroup(full) {
                let sub = try datasets(under: full)
                out += sub.map { child + "/" + $0 }
            } else if isDataset(full) {
                out.append(child)
            }
        }
        return out
    }
}
