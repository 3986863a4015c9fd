import Testing

@Test func placeholder_LoomKernelsTests() {}
