import Testing

@Test func placeholder_LoomModelTests() {}
