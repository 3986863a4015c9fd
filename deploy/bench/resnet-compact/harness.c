// The convolutions of configs/models/resnet-compact.yaml at micro-batch 32, each with the
// kernel Loom chooses for its shape (Winograd for the 3×3 stride-1 layers; the channel
// kernel for the strided ones' forward and dweight, the strided kernel for their dx; the
// grid kernel for the stem), timed in CPU-seconds of this process (best of R), so that
// other processes' load does not count: milliseconds per call and per micro-batch step.
// With DUMP=FILE, instead writes every kernel's output on every instruction path this
// CPU has to FILE.<path> (compare.sh compares them between two revisions).
// Usage: harness [repetitions]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "CKernels.h"
#include "CKernelsConv.h"
#include "CKernelsWinograd.h"

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *random_floats(size_t n, unsigned seed) {
    float *p = malloc(n * sizeof(float));
    srand(seed);
    for (size_t i = 0; i < n; i++) p[i] = (float)rand() / RAND_MAX * 2 - 1;
    return p;
}

enum kind { WINOGRAD, CHANNELS, GRID };
struct layer { const char *name; long c, oc, hw, k, s, p, count; enum kind kind; int dx; };

static const struct layer layers[] = {
    {"conv1 (stem)", 1, 32, 28, 3, 1, 1, 1, GRID, 0},
    {"layer1 3x3", 32, 32, 14, 3, 1, 1, 2, WINOGRAD, 1},
    {"layer2.0.conv1 s2", 32, 64, 14, 3, 2, 1, 1, CHANNELS, 1},
    {"layer2 3x3", 64, 64, 7, 3, 1, 1, 3, WINOGRAD, 1},
    {"layer2.0.down 1x1 s2", 32, 64, 14, 1, 2, 0, 1, CHANNELS, 1},
    {"layer3.0.conv1 s2", 64, 128, 7, 3, 2, 1, 1, CHANNELS, 1},
    {"layer3 3x3", 128, 128, 4, 3, 1, 1, 1, WINOGRAD, 1},
    {"layer3.0.down 1x1 s2", 64, 128, 7, 1, 2, 0, 1, CHANNELS, 1},
};

/// More shapes for DUMP only: channels not a multiple of 16, odd and wide planes.
static const struct layer extra[] = {
    {"w 20->24 5x5", 20, 24, 5, 3, 1, 1, 0, WINOGRAD, 1},   {"w 16->40 9x9", 16, 40, 9, 3, 1, 1, 0, WINOGRAD, 1},
    {"w 48->16 17x17", 48, 16, 17, 3, 1, 1, 0, WINOGRAD, 1}, {"w 33->17 3x3", 33, 17, 3, 3, 1, 1, 0, WINOGRAD, 1},
    {"w 16->16 32x32", 16, 16, 32, 3, 1, 1, 0, WINOGRAD, 1}, {"c 24->40 s2 9", 24, 40, 9, 3, 2, 1, 0, CHANNELS, 1},
    {"c 17->32 s1 6", 17, 32, 6, 3, 1, 1, 0, CHANNELS, 0},  {"c 64->32 1x1 s2 8", 64, 32, 8, 1, 2, 0, 0, CHANNELS, 1},
    {"c 40->48 s2 5", 40, 48, 5, 3, 2, 1, 0, CHANNELS, 1},
};

static long out_hw(const struct layer *l) { return (l->hw + 2 * l->p - l->k) / l->s + 1; }

/// The passes of layer l on the chosen kernel; which: 0 forward, 1 dx, 2 dweight, 3 both
/// backward passes (one call where the kernel has one).
static void run(const struct layer *l, int which, float *y, float *x, float *w, float *dy, float *dx, float *dw,
                long n);
static void run(const struct layer *l, int which, float *y, float *x, float *w, float *dy, float *dx, float *dw,
                long n) {
    struct loom_conv_shape s = {l->c, l->oc, l->hw, l->hw, l->k, l->s, l->p};
    int ok = 1;
    switch (which) {
    case 0:
        ok = l->kind == WINOGRAD ? loom_winograd_forward(y, x, w, NULL, n, &s)
             : l->kind == CHANNELS ? loom_conv_forward_channels(y, x, w, NULL, n, &s)
                                   : loom_conv_forward(y, x, w, NULL, n, &s);
        break;
    case 1:
        ok = l->kind == WINOGRAD ? loom_winograd_input_gradient(dx, dy, w, n, &s)
                                 : loom_conv_input_gradient_strided(dx, dy, w, n, &s);
        break;
    case 3:  // dweight and dx together
#ifdef WG_COMBINED
        if (l->kind == WINOGRAD) {
            ok = loom_winograd_backward(dx, dw, dy, x, w, n, &s);
            break;
        }
#endif
        run(l, 2, y, x, w, dy, dx, dw, n);
        if (l->dx) run(l, 1, y, x, w, dy, dx, dw, n);
        break;
    default:
        ok = l->kind == WINOGRAD ? loom_winograd_weight_gradient(dw, dy, x, n, &s)
             : l->kind == CHANNELS ? loom_conv_weight_gradient_channels(dw, dy, x, n, &s)
                                   : loom_conv_weight_gradient(dw, dy, x, n, &s);
    }
    if (!ok) { fprintf(stderr, "out of memory\n"); exit(1); }
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 20;
    const char *dump = getenv("DUMP");
    long batches[] = {32, 3, 1};
    int nb = dump ? 3 : 1;
    int paths = dump ? loom_kernels_path() + 1 : 0;
    double total[3] = {0};
    if (!dump) printf("%-22s %9s %9s %9s   (ms per call, CPU time, best of %d, batch 32)\n", "layer", "forward", "-",
                      "backward", reps);
    for (int p = dump ? 0 : loom_kernels_path(); p <= (dump ? paths - 1 : loom_kernels_path()); p++) {
        FILE *f = NULL;
        if (dump) {
            char name[4096];
            snprintf(name, sizeof name, "%s.%d", dump, p);
            f = fopen(name, "wb");
            loom_kernels_set_path(p);
        }
        size_t count = sizeof layers / sizeof *layers, more = dump ? sizeof extra / sizeof *extra : 0;
        for (size_t li = 0; li < count + more; li++) {
            const struct layer *l = li < count ? &layers[li] : &extra[li - count];
            for (int bi = 0; bi < nb; bi++) {
                long n = batches[bi], ohw = out_hw(l);
                size_t xs = n * l->c * l->hw * l->hw, ys = n * l->oc * ohw * ohw, ws = l->oc * l->c * l->k * l->k;
                float *x = random_floats(xs, 1 + li), *w = random_floats(ws, 2 + li), *dy = random_floats(ys, 3 + li);
                float *y = calloc(ys + 16, 4), *dx = calloc(xs + 16, 4), *dw = random_floats(ws, 4 + li);
                if (dump) {
                    for (int which = 0; which < 3; which++) {
                        if (which == 1 && !l->dx) continue;
                        run(l, which, y, x, w, dy, dx, dw, n);
                    }
#ifdef WG_COMBINED
                    // The shared-dy backward pass must give what the two calls gave.
                    if (l->kind == WINOGRAD) {
                        struct loom_conv_shape s = {l->c, l->oc, l->hw, l->hw, l->k, l->s, l->p};
                        float *dx2 = calloc(xs + 16, 4), *dw2 = random_floats(ws, 4 + li);
                        loom_winograd_backward(dx2, dw2, dy, x, w, n, &s);
                        if (memcmp(dx2, dx, xs * 4) || memcmp(dw2, dw, ws * 4))
                            printf("MISMATCH loom_winograd_backward %s batch %ld path %d\n", l->name, n, p);
                        float *dw3 = random_floats(ws, 4 + li);
                        loom_winograd_backward(NULL, dw3, dy, x, w, n, &s);
                        if (memcmp(dw3, dw, ws * 4))
                            printf("MISMATCH loom_winograd_backward (no dx) %s batch %ld path %d\n", l->name, n, p);
                        free(dx2), free(dw2), free(dw3);
                    }
#endif
                    fwrite(y, 4, ys, f), fwrite(dx, 4, xs, f), fwrite(dw, 4, ws, f);
                } else {
                    double best[3] = {0, 0, 0};
                    for (int which = 0; which < 3; which++) {
                        if (which == 1) continue;
                        best[which] = 1e30;
                        for (int r = 0; r < reps; r++) {
                            double t = cpu_seconds();
                            run(l, which == 2 ? 3 : which, y, x, w, dy, dx, dw, n);
                            t = cpu_seconds() - t;
                            if (t < best[which]) best[which] = t;
                        }
                        total[which] += best[which] * l->count;
                    }
                    printf("%-22s %9.3f %9.3f %9.3f   x%ld\n", l->name, best[0] * 1e3, best[1] * 1e3, best[2] * 1e3,
                           l->count);
                }
                free(x), free(w), free(dy), free(y), free(dx), free(dw);
            }
        }
        if (f) fclose(f);
    }
    if (!dump) printf("%-22s %9.3f %9.3f %9.3f   all: %.3f ms per micro-batch of 32\n", "model (x count)", total[0] * 1e3,
                      total[1] * 1e3, total[2] * 1e3, (total[0] + total[1] + total[2]) * 1e3);
    return 0;
}
