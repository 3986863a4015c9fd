// What Swift's Glibc module does not import: mallopt and its parameters (<malloc.h>).
#ifndef LOOM_CHEAPTUNING_H
#define LOOM_CHEAPTUNING_H

/// mallopt(M_MMAP_THRESHOLD, mmap_threshold) and mallopt(M_TRIM_THRESHOLD, trim_threshold);
/// 1 when both were accepted, 0 otherwise (or when the C library is not glibc).
int loom_heap_keep_large_blocks(int mmap_threshold, int trim_threshold);

#endif
