import Testing

@Test func placeholder_LoomDataTests() {}
