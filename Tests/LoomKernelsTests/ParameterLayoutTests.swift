// The flat parameter table: contiguous views, lookup by state_dict name, unique names.
import LoomKernels
import Testing

@Test func viewsArePackedBackToBackInOrder() {
    var layout = ParameterLayout()
    layout.append(name: "c1.weight", shape: [4, 1, 3, 3])
    layout.append(name: "c1.bias", shape: [4], isBiasOrNorm: true)
    #expect(layout.count == 40)
    #expect(layout.view(named: "c1.bias")?.offset == 36)
    #expect(layout.offset(of: "c1.weight") == 0)
    #expect(layout.names == ["c1.weight", "c1.bias"])
}

@Test func repeatedNameIsRefused() {
    var layout = ParameterLayout()
    layout.append(name: "w", shape: [2])
    #expect(layout.append(name: "w", shape: [3]) == nil)
    #expect(layout.count == 2)
}

@Test func sgemmThroughputIsPositive() {
    #expect(BLAS.measureSgemmGFLOPS(size: 64, seconds: 0.05) > 0)
}
