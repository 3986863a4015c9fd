// LoomHDF5
