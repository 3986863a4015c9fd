import Testing

@Test func placeholder_LoomTrainingTests() {}
