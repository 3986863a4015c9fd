// Per-thread scratch buffers: one pthread key holds each thread's buffers, one per slot.
#include <pthread.h>
#include <stdlib.h>

#include "ThreadScratch.h"

struct scratch_buffers {
    void *p[LOOM_SCRATCH_SLOTS];
    size_t bytes[LOOM_SCRATCH_SLOTS];
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_key_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *v) {
    struct scratch_buffers *b = v;
    for (int i = 0; i < LOOM_SCRATCH_SLOTS; i++) free(b->p[i]);
    free(b);
}

static void scratch_make_key(void) { pthread_key_create(&scratch_key, scratch_free); }

void *loom_thread_scratch(enum loom_scratch_slot slot, size_t bytes) {
    if (!bytes) bytes = 64;
    pthread_once(&scratch_key_once, scratch_make_key);
    struct scratch_buffers *b = pthread_getspecific(scratch_key);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b || pthread_setspecific(scratch_key, b) != 0) {
            free(b);
            return NULL;
        }
    }
    if (b->bytes[slot] < bytes) {
        free(b->p[slot]);
        b->p[slot] = NULL;
        b->bytes[slot] = 0;
        if (posix_memalign(&b->p[slot], 64, bytes) != 0) {
            b->p[slot] = NULL;
            return NULL;
        }
        b->bytes[slot] = bytes;
    }
    return b->p[slot];
}
