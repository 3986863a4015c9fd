// Writes the bits of the depthwise kernels (Sources/CKernels) on 300 shapes to a file: y, dx,
// dweight and dbias of 3 samples through the lane kernel, the polyphase kernel and the entry
// points, on the instruction path given. compare.sh builds it against two versions of the
// kernels and compares the files byte for byte: a change that must keep every bit (a faster
// loop, the same sums in the same order) shows here on shapes the tests do not list.
//
// Usage: dump PATH FILE (PATH: 0 sse2, 1 avx2, 2 avx512)
#include <stdio.h>
#include <stdlib.h>

#include "CKernels.h"
#include "CKernelsLayers.h"

typedef int (*forward_fn)(float *, const float *, const float *, const float *, size_t,
                          const struct loom_depthwise_shape *);
typedef int (*backward_fn)(float *, float *, float *, const float *, const float *, const float *, size_t,
                           const struct loom_depthwise_shape *);

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

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: dump PATH FILE\n");
        return 2;
    }
    loom_kernels_set_path(atoi(argv[1]));
    FILE *out = fopen(argv[2], "wb");
    if (!out) {
        perror(argv[2]);
        return 2;
    }
    // MobileNet-small's six layers, a few planes around 16 wide, then shapes drawn at random:
    // kernels 1 to 7, strides 1 to 3, planes up to 20 × 20, padding 0 to k, 1 to 40 channels.
    struct loom_depthwise_shape shapes[300] = {
        {16, 28, 28, 3, 1, 1}, {96, 28, 28, 3, 2, 1}, {144, 14, 14, 3, 1, 1}, {144, 14, 14, 5, 2, 2},
        {240, 7, 7, 5, 1, 2},  {240, 7, 7, 3, 1, 1},  {17, 16, 16, 3, 1, 1},  {33, 16, 16, 5, 1, 2},
        {20, 15, 15, 3, 2, 1}, {18, 17, 17, 5, 2, 2}, {5, 32, 32, 3, 2, 1},   {7, 9, 33, 3, 1, 1},
    };
    int count = 12;
    unsigned r = 12345;
    while (count < 300) {
        r = r * 1103515245u + 12345u;
        int k = 1 + (int)(r >> 8) % 7, s = 1 + (int)(r >> 12) % 3, h = 1 + (int)(r >> 14) % 20;
        int w = 1 + (int)(r >> 19) % 20, p = (int)(r >> 24) % (k + 1), c = 1 + (int)(r >> 27) % 40;
        if (h + 2 * p < k || w + 2 * p < k) continue;
        shapes[count++] = (struct loom_depthwise_shape){c, h, w, k, s, p};
    }
    forward_fn forward[3] = {loom_depthwise_lanes_forward, loom_depthwise_polyphase_forward, loom_depthwise_forward};
    backward_fn backward[3] = {loom_depthwise_lanes_backward, loom_depthwise_polyphase_backward,
                               loom_depthwise_backward};
    for (int i = 0; i < count; i++) {
        struct loom_depthwise_shape s = shapes[i];
        long batch = 3, oh = (s.height + 2 * s.padding - s.kernel) / s.stride + 1;
        long ow = (s.width + 2 * s.padding - s.kernel) / s.stride + 1;
        long in = batch * s.channels * s.height * s.width, outs = batch * s.channels * oh * ow;
        long wn = s.channels * s.kernel * s.kernel;
        float *x = values(in, i + 1), *dy = values(outs, i + 7), *w = values(wn, i + 3), *b = values(s.channels, i + 4);
        for (int k = 0; k < 3; k++) {
            float *y = calloc((size_t)outs + 1, 4), *dx = calloc((size_t)in + 1, 4);
            float *dw = values(wn, 5), *db = values(s.channels, 6);
            if (!forward[k](y, x, w, b, (size_t)batch, &s) || !backward[k](dx, dw, db, dy, x, w, (size_t)batch, &s)) {
                fprintf(stderr, "out of memory\n");
                return 2;
            }
            fwrite(y, 4, (size_t)outs, out);
            fwrite(dx, 4, (size_t)in, out);
            fwrite(dw, 4, (size_t)wn, out);
            fwrite(db, 4, (size_t)s.channels, out);
            free(y); free(dx); free(dw); free(db);
        }
        free(x); free(dy); free(w); free(b);
    }
    return fclose(out) == 0 ? 0 : 2;
}
