import Testing

@Test func placeholder_LoomCLITests() {}
