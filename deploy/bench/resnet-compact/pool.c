// loom_pool_relu_plane against a scalar reference written from BatchNormPoolReLU.swift's
// definition (z = x·scale + shift, first strict maximum in scan order, ≤ 0 → +0), bit for
// bit, on every instruction path this CPU has: planes 1×1 to 40×40 (odd sizes too), values
// with many ties and some NaNs; then its CPU time on the compact ResNet's stem plane.
// Usage: cc -O2 -ffp-contract=off -ISources/CKernels/include pool.c Sources/CKernels/Kernels.c
//        Sources/CKernels/CPUFeatures.c -lm && ./a.out
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "CKernels.h"
#include "CKernelsNorm.h"

static void reference(float *y, int32_t *at, float *sel, const float *x, float scale, float shift, long h, long w) {
    long oh = h / 2, ow = w / 2;
    for (long r = 0; r < oh; r++)
        for (long c = 0; c < ow; c++) {
            long i0 = 2 * r * w + 2 * c, idx[4] = {i0, i0 + 1, i0 + w, i0 + w + 1};
            volatile float best = x[i0] * scale;
            best = best + shift;
            long a = i0;
            for (int k = 1; k < 4; k++) {
                volatile float z = x[idx[k]] * scale;
                z = z + shift;
                if (z > best) best = z, a = idx[k];
            }
            y[r * ow + c] = best <= 0 ? 0 : best;
            at[r * ow + c] = (int32_t)a;
            sel[r * ow + c] = x[a];
        }
}

int main(void) {
    int paths = loom_kernels_path() + 1, bad = 0, cases = 0;
    srand(7);
    for (long h = 1; h <= 40; h++)
        for (long w = 1; w <= 40; w += (h % 3) + 1) {
            long n = h * w, on = (h / 2) * (w / 2);
            float *x = malloc((n + 64) * 4), *y0 = calloc(on + 1, 4), *y = calloc(on + 1, 4);
            float *s0 = calloc(on + 1, 4), *s = calloc(on + 1, 4);
            int32_t *a0 = calloc(on + 1, 4), *a = calloc(on + 1, 4);
            for (long i = 0; i < n; i++) x[i] = (float)(rand() % 9 - 4) * 0.25f + (rand() % 5 == 0 ? (float)rand() / RAND_MAX : 0);
            if (h % 5 == 0) x[rand() % n] = NAN;
            float scale = (h % 4 == 0) ? -0.75f : 1.3f, shift = (w % 2) ? 0.1f : -0.2f;
            reference(y0, a0, s0, x, scale, shift, h, w);
            for (int p = 0; p < paths; p++) {
                loom_kernels_set_path(p);
                memset(y, 0xff, on * 4), memset(a, 0xff, on * 4), memset(s, 0xff, on * 4);
                // end: the plane's own end (the copy path) or 64 floats past it (the load path)
                loom_pool_relu_plane(y, a, s, x, x + n + ((h + w) % 2 ? 64 : 0), scale, shift, h, w);
                cases++;
                if (memcmp(y, y0, on * 4) || memcmp(a, a0, on * 4) || memcmp(s, s0, on * 4)) {
                    if (bad++ < 5) printf("MISMATCH %ldx%ld path %d\n", h, w, p);
                }
            }
            free(x), free(y0), free(y), free(s0), free(s), free(a0), free(a);
        }
    printf("%d cases on %d paths, %d mismatches\n", cases, paths, bad);
    loom_kernels_set_path(paths - 1);
    long h = 28, w = 28, planes = 32 * 32;
    float *x = malloc(planes * h * w * 4), *y = malloc(planes * 196 * 4), *s = malloc(planes * 196 * 4);
    int32_t *a = malloc(planes * 196 * 4);
    for (long i = 0; i < planes * h * w; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
    double best = 1e30;
    for (int r = 0; r < 20; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        for (long p = 0; p < planes; p++)
            loom_pool_relu_plane(y + p * 196, a + p * 196, s + p * 196, x + p * h * w, x + planes * h * w, 1.1f, 0.1f, h, w);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
        double t = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
        if (t < best) best = t;
    }
    printf("32 images x 32 channels 28x28: %.3f ms\n", best * 1e3);
    return bad != 0;
}
