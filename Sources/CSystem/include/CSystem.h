// What Swift's Glibc module does not give LoomCluster and LoomWire: CPU affinity (glibc
// declares sched_setaffinity and the CPU_* macros only under _GNU_SOURCE) and C11 atomic
// loads, stores and fences on memory shared with another process (shared-memory payloads).
#ifndef LOOM_CSYSTEM_H
#define LOOM_CSYSTEM_H

#include <stdint.h>

/// Restricts thread `tid` of this process (0: the calling thread; threads it starts
/// afterwards inherit it) to CPU `cpu`. 0 on success, else the errno of sched_setaffinity
/// (EINVAL: not an allowed CPU; ESRCH: no such thread, e.g. it has just ended).
int loom_pin_thread(int tid, int cpu);

/// Writes the CPUs the calling thread may run on into `cpus` (at most `capacity`, in
/// increasing order); returns how many there are, or -errno.
int loom_allowed_cpus(int *cpus, int capacity);

/// Atomic 64-bit load with acquire order, store with release order, and an acquire fence
/// (the reader side of a sequence lock: copy, fence, load the sequence again).
uint64_t loom_load_acquire_u64(const void *address);
void loom_store_release_u64(void *address, uint64_t value);
void loom_fence_acquire(void);
/// A release fence (the writer side: mark the slot busy, fence, then write the data).
void loom_fence_release(void);

/// The width in columns of the terminal `fd` is, or 0 when it is none or does not say
/// (ioctl TIOCGWINSZ, which Swift cannot call: ioctl is variadic).
int loom_terminal_columns(int fd);

#endif
