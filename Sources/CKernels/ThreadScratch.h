// Per-thread scratch buffers for the convolution kernels (internal to CKernels).
#ifndef LOOM_THREAD_SCRATCH_H
#define LOOM_THREAD_SCRATCH_H

#include <stddef.h>

/// One buffer per slot and thread, so kernels that run one inside the other never share one.
enum loom_scratch_slot {
    LOOM_SCRATCH_GRID = 0,     // the grid kernel (ConvKernels.c)
    LOOM_SCRATCH_CHANNEL = 1,  // the channel kernel (ChannelConvKernels.c)
    LOOM_SCRATCH_WINOGRAD = 2, // the Winograd kernel (Winograd.c)
    LOOM_SCRATCH_SLOTS = 3
};

/// The calling thread's buffer of `slot`, at least `bytes` long, 64-byte aligned, contents
/// undefined; NULL when out of memory. It is kept from call to call (grown when too small)
/// and freed when the thread ends: a fresh allocation of megabytes per layer and pass cost
/// page faults and the kernel's page clearing, 2-5% of a ResNet step.
void *loom_thread_scratch(enum loom_scratch_slot slot, size_t bytes);

#endif
