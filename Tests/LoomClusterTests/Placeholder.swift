import Testing

@Test func placeholder_LoomClusterTests() {}
