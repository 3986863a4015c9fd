// cluster.wire and cluster.servers each parse; together they are refused, naming both keys.

import LoomConfig
import Testing

@Test func wireAndServersAreReadOnTheirOwn() throws {
    let bf16 = try TestConfigs.parse(TestConfigs.minimal, overrides: ["cluster.wire=bf16"])
    #expect(bf16.cluster.wire == .bf16 && bf16.cluster.servers == 0)
    let sharded = try TestConfigs.parse(TestConfigs.minimal, overrides: ["cluster.servers=3"])
    #expect(sharded.cluster.servers == 3 && sharded.cluster.wire == .fp32)
}

@Test func bf16WithShardServersIsRefused() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["cluster.servers=2", "cluster.wire=bf16"]),
                             "bf16 with shard servers accepted")
    #expect(error.description.contains("cluster.wire bf16 is not supported with shard servers (cluster.servers 2)"))
    let written = TestConfigs.minimal + "\ncluster:\n  servers: 1\n  wire: bf16"
    #expect(TestConfigs.error(written)?.description.contains("shard servers") == true)
}

@Test func overlapIsReadWithServersAndRefusedWithout() throws {
    let on = try TestConfigs.parse(TestConfigs.minimal, overrides: ["cluster.servers=2", "cluster.overlap=true"])
    #expect(on.cluster.overlap && on.cluster.servers == 2)
    #expect(try TestConfigs.parse(TestConfigs.minimal).cluster.overlap == false)
    let error = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["cluster.overlap=true"]),
                             "overlap without shard servers accepted")
    #expect(error.description.contains("cluster.overlap needs shard servers (cluster.servers > 0)"))
}
