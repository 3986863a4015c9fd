import Testing

@Test func placeholder_LoomHDF5Tests() {}
