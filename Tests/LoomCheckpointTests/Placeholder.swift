import Testing

@Test func placeholder_LoomCheckpointTests() {}
