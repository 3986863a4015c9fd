import Testing

@Test func placeholder_LoomWireTests() {}
