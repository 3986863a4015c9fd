// Times Loom's Winograd F(2×2, 3×3) kernel against the two direct kernels on the 3×3
// stride-1 layers of ResNet-20, ResNet-18 at 64 px and the compact ResNet, forward and dx,
// in CPU-seconds of this process (so that other processes' load does not count), best of R.
// Then the weight gradient: Winograd's against the grid and channel kernels'. Before timing,
// checks on every path the CPU runs that the Winograd kernel gives the same bits (forward and
// dweight), and prints its error against the definition in double beside the direct kernels'.
// Usage: harness [repetitions]; NOCHECK=1 skips the checks, NOPERF=1 the timing.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "CKernels.h"

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

struct layer { const char *model; long c, oc, hw, batch; };

static const struct layer layers[] = {
    {"resnet-20", 16, 16, 28, 32}, {"resnet-20", 32, 32, 14, 32}, {"resnet-20", 64, 64, 7, 32},
    {"resnet-18@64", 64, 64, 16, 16}, {"resnet-18@64", 128, 128, 8, 16},
    {"resnet-18@64", 256, 256, 4, 16}, {"resnet-18@64", 512, 512, 2, 16},
    {"compact", 32, 32, 14, 32}, {"compact", 64, 64, 7, 32}, {"compact", 128, 128, 4, 32},
};

typedef int (*conv_fn)(float *, const float *, const float *, const float *, size_t, const struct loom_conv_shape *);
typedef int (*dx_fn)(float *, const float *, const float *, size_t, const struct loom_conv_shape *);

static double best_forward(conv_fn f, float *y, const float *x, const float *w, long n, struct loom_conv_shape *s,
                           int reps) {
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = cpu_seconds();
        f(y, x, w, NULL, n, s);
        t = cpu_seconds() - t;
        if (t < best) best = t;
    }
    return best;
}

static double best_dx(dx_fn f, float *dx, const float *dy, const float *w, long n, struct loom_conv_shape *s, int reps) {
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = cpu_seconds();
        f(dx, dy, w, n, s);
        t = cpu_seconds() - t;
        if (t < best) best = t;
    }
    return best;
}

typedef int (*dw_fn)(float *, const float *, const float *, size_t, const struct loom_conv_shape *);

static double best_dweight(dw_fn f, float *dw, const float *dy, const float *x, long n, struct loom_conv_shape *s,
                           int reps) {
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        memset(dw, 0, s->out_channels * s->in_channels * 9 * sizeof(float));
        double t = cpu_seconds();
        f(dw, dy, x, n, s);
        t = cpu_seconds() - t;
        if (t < best) best = t;
    }
    return best;
}

/// Max over weights of |dweight − exact| / Σ|dy·x| (the direct sum's scale).
static double dweight_error(const float *dw, const float *dy, const float *x, long n, const struct loom_conv_shape *s) {
    long c = s->in_channels, oc = s->out_channels, h = s->height, wd = s->width;
    double worst = 0;
    for (long o = 0; o < oc; o++)
        for (long ci = 0; ci < c; ci++)
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    double sum = 0, mag = 0;
                    for (long i = 0; i < n; i++)
                        for (long oy = 0; oy < h; oy++)
                            for (long ox = 0; ox < wd; ox++) {
                                long iy = oy + ky - 1, ix = ox + kx - 1;
                                if (iy < 0 || ix < 0 || iy >= h || ix >= wd) continue;
                                double a = dy[((i * oc + o) * h + oy) * wd + ox], b = x[((i * c + ci) * h + iy) * wd + ix];
                                sum += a * b;
                                mag += fabs(a * b);
                            }
                    double e = fabs(dw[((o * c + ci) * 3 + ky) * 3 + kx] - sum) / (mag > 0 ? mag : 1);
                    if (e > worst) worst = e;
                }
    return worst;
}

/// Max over outputs of |winograd − exact| / Σ|w||x| (the direct sum's scale), forward.
static double forward_error(const float *y, const float *x, const float *w, long n, const struct loom_conv_shape *s) {
    long c = s->in_channels, oc = s->out_channels, h = s->height, wd = s->width;
    double worst = 0;
    for (long i = 0; i < n; i++)
        for (long o = 0; o < oc; o++)
            for (long oy = 0; oy < h; oy++)
                for (long ox = 0; ox < wd; ox++) {
                    double sum = 0, mag = 0;
                    for (long ci = 0; ci < c; ci++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                long iy = oy + ky - 1, ix = ox + kx - 1;
                                if (iy < 0 || ix < 0 || iy >= h || ix >= wd) continue;
                                double a = w[((o * c + ci) * 3 + ky) * 3 + kx], b = x[((i * c + ci) * h + iy) * wd + ix];
                                sum += a * b;
                                mag += fabs(a * b);
                            }
                    double e = fabs(y[((i * oc + o) * h + oy) * wd + ox] - sum) / (mag > 0 ? mag : 1);
                    if (e > worst) worst = e;
                }
    return worst;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    int paths = loom_kernels_path() + 1;
    if (!getenv("NOCHECK")) {
        for (size_t li = 0; li < sizeof layers / sizeof *layers; li++) {
            struct layer l = layers[li];
            long n = 2;
            struct loom_conv_shape s = {l.c, l.oc, l.hw, l.hw, 3, 1, 1};
            size_t xs = n * l.c * l.hw * l.hw, ys = n * l.oc * l.hw * l.hw;
            float *x = random_floats(xs, 1), *w = random_floats(l.oc * l.c * 9, 2);
            float *y0 = calloc(ys, 4), *y = calloc(ys, 4);
            for (int p = 0; p < paths; p++) {
                loom_kernels_set_path(p);
                loom_winograd_forward(p ? y : y0, x, w, NULL, n, &s);
                if (p && memcmp(y, y0, ys * 4)) printf("MISMATCH forward path %d %s %ld\n", p, l.model, l.c);
            }
            double e = forward_error(y0, x, w, n, &s);
            loom_conv_forward(y, x, w, NULL, n, &s);
            printf("%-13s %3ld→%3ld %2ldx%-2ld max |error| / Σ|w·x|: winograd %.2e, direct %.2e\n", l.model, l.c, l.oc,
                   l.hw, l.hw, e, forward_error(y, x, w, n, &s));
            float *dy = random_floats(ys, 3), *dw0 = calloc(l.oc * l.c * 9, 4), *dw = calloc(l.oc * l.c * 9, 4);
            for (int p = 0; p < paths; p++) {
                loom_kernels_set_path(p);
                memset(dw, 0, l.oc * l.c * 9 * 4);
                loom_winograd_weight_gradient(p ? dw : dw0, dy, x, n, &s);
                if (p && memcmp(dw, dw0, l.oc * l.c * 9 * 4)) printf("MISMATCH dweight path %d %s %ld\n", p, l.model, l.c);
            }
            e = dweight_error(dw0, dy, x, n, &s);
            memset(dw, 0, l.oc * l.c * 9 * 4);
            loom_conv_weight_gradient_channels(dw, dy, x, n, &s);
            printf("%-13s %3ld→%3ld %2ldx%-2ld max |error| / Σ|dy·x|: dweight winograd %.2e, direct %.2e\n", l.model, l.c,
                   l.oc, l.hw, l.hw, e, dweight_error(dw, dy, x, n, &s));
            free(x), free(w), free(y0), free(y), free(dy), free(dw0), free(dw);
        }
        loom_kernels_set_path(paths - 1);
    }
    if (getenv("NOPERF")) return 0;
    printf("%-13s %-9s %-6s %8s %8s %8s %6s | %8s %8s %8s %6s   (GFLOP/s of the direct FLOPs per CPU-second)\n",
           "model", "layer", "plane", "grid", "channel", "winograd", "w/best", "dx grid", "dx chan", "dx wino", "w/best");
    for (size_t li = 0; li < sizeof layers / sizeof *layers; li++) {
        struct layer l = layers[li];
        struct loom_conv_shape s = {l.c, l.oc, l.hw, l.hw, 3, 1, 1};
        size_t xs = l.batch * l.c * l.hw * l.hw, ys = l.batch * l.oc * l.hw * l.hw;
        float *x = random_floats(xs, 1), *w = random_floats(l.oc * l.c * 9, 2), *y = random_floats(ys, 3);
        float *dx = calloc(xs, 4);
        double flops = 2.0 * l.batch * l.oc * l.c * 9 * l.hw * l.hw / 1e9;
        double g = best_forward(loom_conv_forward, y, x, w, l.batch, &s, reps);
        double c = best_forward(loom_conv_forward_channels, y, x, w, l.batch, &s, reps);
        double wf = best_forward(loom_winograd_forward, y, x, w, l.batch, &s, reps);
        double dg = best_dx(loom_conv_input_gradient, dx, y, w, l.batch, &s, reps);
        double dc = best_dx(loom_conv_input_gradient_channels, dx, y, w, l.batch, &s, reps);
        double dw = best_dx(loom_winograd_input_gradient, dx, y, w, l.batch, &s, reps);
        printf("%-13s %3ld→%-5ld %2ldx%-3ld %8.1f %8.1f %8.1f %6.2f | %8.1f %8.1f %8.1f %6.2f\n", l.model, l.c, l.oc,
               l.hw, l.hw, flops / g, flops / c, flops / wf, (g < c ? g : c) / wf, flops / dg, flops / dc, flops / dw,
               (dg < dc ? dg : dc) / dw);
        free(x), free(w), free(y), free(dx);
    }
    printf("\n%-13s %-9s %-6s %8s %8s %8s %6s   (dweight: GFLOP/s of the direct FLOPs per CPU-second)\n", "model",
           "layer", "plane", "dW grid", "dW chan", "dW wino", "w/best");
    for (size_t li = 0; li < sizeof layers / sizeof *layers; li++) {
        struct layer l = layers[li];
        struct loom_conv_shape s = {l.c, l.oc, l.hw, l.hw, 3, 1, 1};
        size_t xs = l.batch * l.c * l.hw * l.hw, ys = l.batch * l.oc * l.hw * l.hw;
        float *x = random_floats(xs, 1), *dy = random_floats(ys, 3), *dw = calloc(l.oc * l.c * 9, 4);
        double flops = 2.0 * l.batch * l.oc * l.c * 9 * l.hw * l.hw / 1e9;
        double g = best_dweight(loom_conv_weight_gradient, dw, dy, x, l.batch, &s, reps);
        double c = best_dweight(loom_conv_weight_gradient_channels, dw, dy, x, l.batch, &s, reps);
        double wg = best_dweight(loom_winograd_weight_gradient, dw, dy, x, l.batch, &s, reps);
        printf("%-13s %3ld→%-5ld %2ldx%-3ld %8.1f %8.1f %8.1f %6.2f\n", l.model, l.c, l.oc, l.hw, l.hw, flops / g,
               flops / c, flops / wg, (g < c ? g : c) / wg);
        free(x), free(dy), free(dw);
    }
    return 0;
}
