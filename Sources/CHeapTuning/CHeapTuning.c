#include "CHeapTuning.h"
#include <limits.h>   /* on glibc, defines __GLIBC__ (through features.h) */

#if defined(__GLIBC__)
#include <malloc.h>

int loom_heap_keep_large_blocks(int mmap_threshold, int trim_threshold) {
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1 && mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1;
}
#else
int loom_heap_keep_large_blocks(int mmap_threshold, int trim_threshold) {
    (void)mmap_threshold;
    (void)trim_threshold;
    return 0;
}
#endif
