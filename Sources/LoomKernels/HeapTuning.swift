// Keeps large buffers on the malloc heap instead of fresh mmap'ed pages.
//
// A training step allocates and frees the same few sizes over and over: a gradient-sized
// buffer per micro-shard, and on the cluster path every weights/result message (1.7 MB
// for the reference CNN) a few times per hop. glibc serves blocks over its mmap threshold
// (128 KiB to start with) with fresh pages, so each of those allocations costs hundreds of
// page faults and a kernel page clear, and each free returns them. Measured with
// `loom bench --workers 2` on the reference CNN, that was 1-2 ms per 1.7 MB buffer and
// about a fifth of a step's wall time on the coordinator-worker round trip.
//
// Raising the mmap threshold (and the trim threshold, so that freed memory at the top of
// the heap is kept) lets freed blocks be reused with their pages already mapped. Memory
// use grows by at most the largest working set of those buffers.

import CHeapTuning

public enum HeapTuning {
    /// Blocks up to this size come from the heap: glibc's ceiling for M_MMAP_THRESHOLD
    /// on 64-bit hosts.
    public static let mmapThreshold: Int32 = 32 << 20
    /// Free memory at the top of the heap kept rather than returned to the kernel.
    public static let trimThreshold: Int32 = 512 << 20

    /// Applies the settings once per process (call before the first large allocation);
    /// false when the C library refused them (or is not glibc), which only costs speed.
    @discardableResult
    public static func keepLargeBuffersOnHeap() -> Bool {
        loom_heap_keep_large_blocks(mmapThreshold, trimThreshold) == 1
    }
}
