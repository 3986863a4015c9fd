// The heap setting every `loom` process applies at start (LoomKernels/HeapTuning.swift).

import LoomKernels
import Testing

struct HeapTuningTests {
    @Test func glibcAcceptsTheHeapSettings() {
        // On glibc both mallopt calls must succeed; a build that silently skipped them (for
        // instance a shim that cannot see __GLIBC__) would be back to page faults per step.
        #if os(Linux)
        #expect(HeapTuning.keepLargeBuffersOnHeap())
        #endif
    }
}
