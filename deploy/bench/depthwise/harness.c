// A stand-alone harness for the depthwise kernels (Sources/CKernels), outside the Swift
// build: run.sh compiles it with the kernels, optionally under AddressSanitizer.
//
// 1. Checks, on MobileNet-small's six layers and 38 edge shapes, on the instruction path
//    given: the lane kernel and the polyphase kernel give the same bits for y, dx and dbias;
//    loom_depthwise_forward/_backward give the bits of the kernel they choose; both weight
//    gradients are within 1e-5 of the definition in double (relative to the sum of the
//    magnitudes of its terms); splitting the batch into single samples changes no bit.
// 2. Times the six layers at the batch given, with the thread's CPU clock (not wall time:
//    on a shared host other processes' time is not counted), best of the repetitions, as
//    bytes/s against copy and triad measured in the same process.
//
// Usage: harness [batch = 32] [repetitions = 20] [path = widest: 0 sse2, 1 avx2, 2 avx512]
// Environment: NOCHECK=1 skips 1, NOPERF=1 skips 2, KERNEL=lanes|polyphase times one kernel
// on all six layers instead of the one the entry points choose.
#define _GNU_SOURCE
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "CKernels.h"
#include "CKernelsLayers.h"

typedef int (*forward_fn)(float *, const float *, const float *, const float *, size_t,
                          const struct loom_depthwise_shape *);
typedef int (*backward_fn)(float *, float *, float *, const float *, const float *, const float *, size_t,
                           const struct loom_depthwise_shape *);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/// (channels, height, width, kernel, stride, padding): MobileNet-small's six layers first.
static const struct loom_depthwise_shape shapes[] = {
    {16, 28, 28, 3, 1, 1}, {96, 28, 28, 3, 2, 1}, {144, 14, 14, 3, 1, 1}, {144, 14, 14, 5, 2, 2},
    {240, 7, 7, 5, 1, 2},  {240, 7, 7, 3, 1, 1},  {3, 5, 9, 3, 2, 1},     {5, 1, 1, 1, 1, 0},
    {7, 11, 13, 5, 3, 2},  {2, 3, 17, 3, 1, 0},   {4, 9, 33, 7, 2, 3},    {3, 20, 6, 3, 2, 0},
    {2, 6, 6, 4, 2, 1},    {2, 8, 40, 3, 1, 2},   {2, 1, 17, 3, 1, 1},    {3, 5, 15, 3, 1, 1},
    {3, 4, 16, 5, 1, 2},   {2, 3, 33, 3, 1, 2},   {2, 6, 9, 5, 1, 1},     {2, 7, 7, 3, 1, 0},
    {2, 5, 6, 3, 1, 3},    {3, 7, 31, 3, 2, 1},   {2, 6, 40, 3, 2, 1},    {2, 9, 32, 5, 2, 2},
    {2, 5, 1, 1, 2, 0},    {2, 10, 11, 3, 3, 1},  {5, 33, 65, 3, 2, 1},   {3, 64, 64, 3, 1, 1},
    {17, 7, 7, 3, 1, 1},   {33, 4, 4, 3, 1, 1},   {40, 3, 3, 3, 2, 1},    {24, 2, 5, 1, 3, 0},
    {31, 16, 16, 7, 1, 3}, {18, 15, 15, 5, 2, 2}, {20, 13, 11, 3, 3, 2},  {16, 8, 8, 4, 2, 2},
    {1, 9, 9, 3, 1, 1},    {16, 5, 5, 5, 1, 5},   {1, 1, 1, 1, 1, 0},    {3, 14, 14, 3, 1, 1},
    {2, 5, 12, 3, 1, 2},   {2, 1, 14, 3, 1, 1},   {17, 9, 30, 3, 2, 1},  {16, 16, 16, 5, 1, 2},
};
#define LAYERS 6
#define SHAPES (sizeof shapes / sizeof shapes[0])

static long out_h(struct loom_depthwise_shape s) { return (s.height + 2 * s.padding - s.kernel) / s.stride + 1; }
static long out_w(struct loom_depthwise_shape s) { return (s.width + 2 * s.padding - s.kernel) / s.stride + 1; }

/// n floats in [-2, 2), exactly n (so that AddressSanitizer sees a read past them).
static float *values(long n, unsigned seed) {
    float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
    unsigned r = seed * 2654435761u + 1;
    for (long i = 0; i < n; i++) {
        r = r * 1103515245u + 12345u;
        p[i] = (float)((int)(r >> 9 & 0xffff) - 32768) / 16384.0f;
    }
    return p;
}

static float *copy_of(const float *a, long n) {
    float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
    memcpy(p, a, sizeof(float) * (size_t)n);
    return p;
}

/// The worst error of dweight (accumulated from dw0) against the definition in double.
static double dweight_error(struct loom_depthwise_shape s, long batch, const float *x, const float *dy,
                            const float *dw0, const float *dw) {
    long k = s.kernel, taps = k * k, oh = out_h(s), ow = out_w(s), h = s.height, w = s.width;
    double worst = 0;
    for (long c = 0; c < s.channels; c++)
        for (long t = 0; t < taps; t++) {
            double exact = dw0[c * taps + t], magnitude = fabs(exact);
            for (long n = 0; n < batch; n++)
                for (long oy = 0; oy < oh; oy++)
                    for (long ox = 0; ox < ow; ox++) {
                        long iy = oy * s.stride - s.padding + t / k, ix = ox * s.stride - s.padding + t % k;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                        double term = (double)dy[((n * s.channels + c) * oh + oy) * ow + ox] *
                                      (double)x[((n * s.channels + c) * h + iy) * w + ix];
                        exact += term;
                        magnitude += fabs(term);
                    }
            double error = fabs(dw[c * taps + t] - exact) / (magnitude + 1e-30);
            if (error > worst) worst = error;
        }
    return worst;
}

struct run {
    float *y, *dx, *dw, *db;
};

static struct run run(forward_fn forward, backward_fn backward, struct loom_depthwise_shape s, long batch, long chunk,
                      const float *x, const float *dy, const float *w, const float *b, const float *dw0,
                      const float *db0) {
    long in = s.channels * s.height * s.width, out = s.channels * out_h(s) * out_w(s);
    struct run r = {calloc((size_t)(batch * out + 1), 4), calloc((size_t)(batch * in + 1), 4),
                    copy_of(dw0, s.channels * s.kernel * s.kernel), copy_of(db0, s.channels)};
    for (long n = 0; n < batch; n += chunk) {
        long m = batch - n < chunk ? batch - n : chunk;
        if (!forward(r.y + n * out, x + n * in, w, b, (size_t)m, &s) ||
            !backward(r.dx + n * in, r.dw, r.db, dy + n * out, x + n * in, w, (size_t)m, &s)) {
            printf("out of memory\n");
            exit(2);
        }
    }
    return r;
}

static void release(struct run r) { free(r.y); free(r.dx); free(r.dw); free(r.db); }

static int same(const float *a, const float *b, long n) { return memcmp(a, b, sizeof(float) * (size_t)n) == 0; }

static int check(long batch) {
    int bad = 0;
    double worst[2] = {0, 0};
    for (size_t i = 0; i < SHAPES; i++) {
        struct loom_depthwise_shape s = shapes[i];
        long nb = i < LAYERS ? 2 : batch, in = s.channels * s.height * s.width, out = s.channels * out_h(s) * out_w(s);
        long wn = s.channels * s.kernel * s.kernel;
        float *x = values(nb * in, 1), *dy = values(nb * out, 2), *w = values(wn, 3), *b = values(s.channels, 4);
        float *dw0 = values(wn, 5), *db0 = values(s.channels, 6);
        struct run lanes = run(loom_depthwise_lanes_forward, loom_depthwise_lanes_backward, s, nb, nb, x, dy, w, b, dw0, db0);
        struct run poly = run(loom_depthwise_polyphase_forward, loom_depthwise_polyphase_backward, s, nb, nb, x, dy, w,
                              b, dw0, db0);
        struct run chosen = run(loom_depthwise_forward, loom_depthwise_backward, s, nb, nb, x, dy, w, b, dw0, db0);
        struct run lanes1 = run(loom_depthwise_lanes_forward, loom_depthwise_lanes_backward, s, nb, 1, x, dy, w, b, dw0, db0);
        struct run poly1 = run(loom_depthwise_polyphase_forward, loom_depthwise_polyphase_backward, s, nb, 1, x, dy, w,
                               b, dw0, db0);
        if (!same(lanes.y, poly.y, nb * out) || !same(lanes.dx, poly.dx, nb * in) || !same(lanes.db, poly.db, s.channels)) {
            bad = 1;
            printf("shape %zu: the kernels differ in y, dx or dbias\n", i);
        }
        struct run *expected = same(chosen.dw, lanes.dw, wn) ? &lanes : &poly;
        if (!same(chosen.dw, expected->dw, wn) || !same(chosen.y, expected->y, nb * out)) {
            bad = 1;
            printf("shape %zu: the entry points give neither kernel's bits\n", i);
        }
        struct run *whole[2] = {&lanes, &poly}, *split[2] = {&lanes1, &poly1};
        for (int j = 0; j < 2; j++) {
            if (!same(whole[j]->dw, split[j]->dw, wn) || !same(whole[j]->dx, split[j]->dx, nb * in)) {
                bad = 1;
                printf("shape %zu: %s differs one sample at a time\n", i, j ? "polyphase" : "lanes");
            }
            double e = dweight_error(s, nb, x, dy, dw0, whole[j]->dw);
            if (e > worst[j]) worst[j] = e;
        }
        release(lanes); release(poly); release(chosen); release(lanes1); release(poly1);
        free(x); free(dy); free(w); free(b); free(dw0); free(db0);
    }
    if (worst[0] > 1e-5 || worst[1] > 1e-5) bad = 1;
    printf("%s: %zu shapes, path %d; dweight within %.2g (lanes) and %.2g (polyphase) of the definition\n",
           bad ? "FAILED" : "passed", SHAPES, loom_kernels_path(), worst[0], worst[1]);
    return bad;
}

static void timing(long batch, int repetitions) {
    forward_fn forward = loom_depthwise_forward;
    backward_fn backward = loom_depthwise_backward;
    const char *kernel = getenv("KERNEL");
    if (kernel && !strcmp(kernel, "lanes")) { forward = loom_depthwise_lanes_forward; backward = loom_depthwise_lanes_backward; }
    if (kernel && !strcmp(kernel, "polyphase")) { forward = loom_depthwise_polyphase_forward; backward = loom_depthwise_polyphase_backward; }
    float *x[LAYERS], *y[LAYERS], *dy[LAYERS], *dx[LAYERS], *w[LAYERS], *dw[LAYERS];
    double forward_bytes = 0, backward_bytes = 0, layer_f[LAYERS], layer_b[LAYERS], best_f = 1e9, best_b = 1e9;
    for (int i = 0; i < LAYERS; i++) {
        struct loom_depthwise_shape s = shapes[i];
        long in = batch * s.channels * s.height * s.width, out = batch * s.channels * out_h(s) * out_w(s);
        long wn = s.channels * s.kernel * s.kernel;
        x[i] = values(in, 1); dx[i] = values(in, 5); y[i] = values(out, 6); dy[i] = values(out, 2);
        w[i] = values(wn, 3); dw[i] = values(wn, 7);
        forward_bytes += 4.0 * (double)(in + out + wn);
        backward_bytes += 4.0 * (double)(2 * in + out + 2 * wn);
        layer_f[i] = layer_b[i] = 1e9;
    }
    long n = 16 << 20;
    float *a = values(n, 1), *b = values(n, 2), *c = values(n, 3);
    double copy = 0, triad = 0;
    for (int r = 0; r < repetitions; r++) {
        // The bandwidth and the layers in alternating rounds, best of each.
        double t = now();
        loom_stream_copy(a, b, (size_t)n);
        t = now() - t;
        if (8.0 * (double)n / t > copy) copy = 8.0 * (double)n / t;
        t = now();
        loom_stream_triad(a, b, c, 0.5f, (size_t)n);
        t = now() - t;
        if (12.0 * (double)n / t > triad) triad = 12.0 * (double)n / t;
        double total = 0;
        for (int i = 0; i < LAYERS; i++) {
            t = now();
            forward(y[i], x[i], w[i], NULL, (size_t)batch, &shapes[i]);
            t = now() - t;
            total += t;
            if (t < layer_f[i]) layer_f[i] = t;
        }
        if (total < best_f) best_f = total;
        total = 0;
        for (int i = 0; i < LAYERS; i++) {
            t = now();
            backward(dx[i], dw[i], NULL, dy[i], x[i], w[i], (size_t)batch, &shapes[i]);
            t = now() - t;
            total += t;
            if (t < layer_b[i]) layer_b[i] = t;
        }
        if (total < best_b) best_b = total;
    }
    double peak = copy > triad ? copy : triad;
    printf("copy %.2f GB/s, triad %.2f GB/s (path %d, batch %ld, best of %d)\n", copy / 1e9, triad / 1e9,
           loom_kernels_path(), batch, repetitions);
    printf("forward  %.2f GB/s = %.2f of the larger (%.0f us); per layer us:", forward_bytes / best_f / 1e9,
           forward_bytes / best_f / peak, best_f * 1e6);
    for (int i = 0; i < LAYERS; i++) printf(" %.0f", layer_f[i] * 1e6);
    printf("\nbackward %.2f GB/s = %.2f of the larger (%.0f us); per layer us:", backward_bytes / best_b / 1e9,
           backward_bytes / best_b / peak, best_b * 1e6);
    for (int i = 0; i < LAYERS; i++) printf(" %.0f", layer_b[i] * 1e6);
    printf("\n");
}

int main(int argc, char **argv) {
    // As `loom` sets them (HeapTuning.swift): scratch buffers stay on the heap between calls.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    long batch = argc > 1 ? atol(argv[1]) : 32;
    int repetitions = argc > 2 ? atoi(argv[2]) : 20;
    if (argc > 3) loom_kernels_set_path(atoi(argv[3]));
    int bad = getenv("NOCHECK") ? 0 : check(batch < 4 ? batch : 3);
    if (!getenv("NOPERF")) timing(batch, repetitions);
    return bad;
}
