// Which slice a shard server gets: slice 0 (which the backward pass's last bucket stays
// off, `ParameterSlices`) goes to a server on the coordinator's host, others first take the
// rest; where hosts cannot be told (ipc, a wildcard bind), in join order as before.

@testable import LoomCluster
import Testing

struct ShardPlacementTests {
    @Test func sameHostComparesTheHostsOfTCPEndpoints() {
        #expect(ClusterExecutor.sameHost("tcp://10.200.0.1:40001", "tcp://10.200.0.1:40000") == true)
        #expect(ClusterExecutor.sameHost("tcp://10.200.0.2:40001", "tcp://10.200.0.1:40000") == false)
        #expect(ClusterExecutor.sameHost("tcp://[fd00::1]:5", "tcp://[fd00::1]:6") == true)
        #expect(ClusterExecutor.sameHost("ipc:///tmp/s.sock", "ipc:///tmp/c.sock") == nil)
        #expect(ClusterExecutor.sameHost("tcp://10.200.0.2:40001", "tcp://*:40000") == nil)
        #expect(ClusterExecutor.sameHost("tcp://0.0.0.0:1", "tcp://10.200.0.1:40000") == nil)
        #expect(ClusterExecutor.sameHost(nil, "tcp://10.200.0.1:40000") == nil)
        #expect(ClusterExecutor.sameHost("tcp://10.200.0.1", "tcp://10.200.0.1:4") == nil)
    }

    @Test func slice0GoesBesideTheCoordinatorOrLast() {
        #expect(ClusterExecutor.shardOrder(count: 4, beside: true) == [0, 1, 2, 3])
        #expect(ClusterExecutor.shardOrder(count: 4, beside: nil) == [0, 1, 2, 3])
        #expect(ClusterExecutor.shardOrder(count: 4, beside: false) == [1, 2, 3, 0])
        #expect(ClusterExecutor.shardOrder(count: 1, beside: false) == [0])
    }
}
