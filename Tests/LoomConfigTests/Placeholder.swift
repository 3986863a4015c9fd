import Testing

@Test func placeholder_LoomConfigTests() {}
