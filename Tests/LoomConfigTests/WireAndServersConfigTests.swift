// cluster.wire and cluster.servers parse on their own and together (bf16 through shard
// servers); a wire format Loom does not know is refused, naming the key.

import LoomConfig
import Testing

@Test func wireAndServersAreReadOnTheirOwn() throws {
    let bf16 = try TestConfigs.parse(TestConfigs.minimal, overrides: ["cluster.wire=bf16"])
    #expect(bf16.cluster.wire == .bf16 && bf16.cluster.servers == 0)
    let sharded = try TestConfigs.parse(TestConfigs.minimal, overrides: ["cluster.servers=3"])
    #expect(sharded.cluster.servers == 3 && sharded.cluster.wire == .fp32)
}

@Test func bf16WithShardServersIsAccepted() throws {
    let both = try TestConfigs.parse(TestConfigs.minimal, overrides: ["cluster.servers=2", "cluster.wire=bf16"])
    #expect(both.cluster.servers == 2 && both.cluster.wire == .bf16)
    let written = try TestConfigs.parse(TestConfigs.minimal + "\ncluster:\n  servers: 1\n  wire: bf16")
    #expect(written.cluster.servers == 1 && written.cluster.wire == .bf16)
}

@Test func anUnknownWireFormatIsRefusedNamingTheKey() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["cluster.servers=2", "cluster.wire=fp16"]),
                             "cluster.wire fp16 accepted")
    #expect(error.description.contains("wire"), "\(error)")
}
