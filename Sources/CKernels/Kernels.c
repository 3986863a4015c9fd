// Loom's memory-bound kernels for three instruction paths, and the switch between them.
// KernelBodies.h is compiled once per path; the public functions call the path chosen
// by loom_kernels_set_path. This target is compiled with -ffp-contract=off (Package.swift):
// the AVX2 and AVX-512 paths must not fuse a multiply and an add that SSE2 rounds twice.
#include "CKernels.h"

// Each ISA path passes vectors by value only between its own static functions, compiled with
// the same target, so the ABI clang warns about (-Wpsabi) is never crossed.
#pragma clang diagnostic ignored "-Wpsabi"
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

#define LOOM_SUFFIX sse2
#include "KernelBodies.h"
#include "NormBodies.h"
#undef LOOM_SUFFIX

#pragma clang attribute push(__attribute__((target("avx,avx2"))), apply_to = function)
#define LOOM_SUFFIX avx2
#include "KernelBodies.h"
#include "NormBodies.h"
#undef LOOM_SUFFIX
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx,avx2,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#define LOOM_SUFFIX avx512
#include "KernelBodies.h"
#include "NormBodies.h"
#undef LOOM_SUFFIX
#pragma clang attribute pop

static int kernel_path = LOOM_PATH_SSE2;

/// Every process starts on the widest path its CPU runs (before main, so that libraries and
/// test processes get it too; the CLI may choose another with LOOM_KERNEL_PATH).
__attribute__((constructor)) static void choose_widest_path(void) {
    uint32_t f = loom_cpu_features();
    uint32_t avx512 = LOOM_CPU_AVX512F | LOOM_CPU_AVX512BW | LOOM_CPU_AVX512DQ | LOOM_CPU_AVX512VL;
    if ((f & avx512) == avx512) kernel_path = LOOM_PATH_AVX512;
    else if ((f & (LOOM_CPU_AVX | LOOM_CPU_AVX2)) == (LOOM_CPU_AVX | LOOM_CPU_AVX2)) kernel_path = LOOM_PATH_AVX2;
}

void loom_kernels_set_path(int path) { kernel_path = path; }
int loom_kernels_path(void) { return kernel_path; }

/// Calls `name`'s body for the current path with the arguments that follow.
#define DISPATCH(name, ...)                                                 \
    switch (kernel_path) {                                                  \
    case LOOM_PATH_AVX512: return name##_avx512(__VA_ARGS__);               \
    case LOOM_PATH_AVX2: return name##_avx2(__VA_ARGS__);                   \
    default: return name##_sse2(__VA_ARGS__);                               \
    }

float loom_sum(const float *p, size_t n) { DISPATCH(sum, p, n) }
void loom_sum_and_centred_dot(const float *d, const float *x, float shift, size_t n, float *sum, float *dot) {
    DISPATCH(sum_and_centred_dot, d, x, shift, n, sum, dot)
}
float loom_centred_squares(const float *p, float shift, size_t n) { DISPATCH(centred_squares, p, shift, n) }
void loom_shifted_moments(const float *p, size_t n, float *sum, float *squares) {
    DISPATCH(shifted_moments, p, n, sum, squares)
}
void loom_affine(float *q, const float *p, float scale, float shift, size_t n) { DISPATCH(affine, q, p, scale, shift, n) }
void loom_add(float *q, const float *p, size_t n) { DISPATCH(add, q, p, n) }
void loom_gated_sum_and_centred_dot(const float *g, const float *v, const float *p, float shift, size_t n,
                                    float *sum, float *dot) {
    DISPATCH(gated_sum_and_centred_dot, g, v, p, shift, n, sum, dot)
}
void loom_centred_affine(float *d, const float *p, float centre, float slope, float shift, size_t n) {
    DISPATCH(centred_affine, d, p, centre, slope, shift, n)
}
void loom_scaled_plus_centred_affine(float *d, const float *g, float scale, const float *p, float centre, float slope,
                                     float shift, size_t n) {
    DISPATCH(scaled_plus_centred_affine, d, g, scale, p, centre, slope, shift, n)
}
int loom_all_finite(const float *p, size_t n) { DISPATCH(all_finite, p, n) }
int loom_sum_into(const float *a, const float *b, float *out, size_t n) { DISPATCH(sum_into, a, b, out, n) }
void loom_relu(float *y, const float *x, size_t n) { DISPATCH(relu, y, x, n) }
void loom_relu_backward(float *dx, const float *dy, const float *y, size_t n) { DISPATCH(relu_backward, dx, dy, y, n) }
void loom_adam(float *w, const float *g, float *m, float *v, size_t n, const struct loom_adam_parameters *a) {
    DISPATCH(adam, w, g, m, v, n, a)
}
void loom_sgd_momentum(float *w, const float *g, float *b, size_t n, float lr, float wd, float mu, float keep) {
    DISPATCH(sgd_momentum, w, g, b, n, lr, wd, mu, keep)
}

void loom_affine_relu(float *q, const float *p, float scale, float shift, size_t n) {
    DISPATCH(affine_relu, q, p, scale, shift, n)
}
void loom_relu_gated_sum_and_centred_dot(const float *dy, const float *y, const float *x, float shift, size_t n,
                                         float *sum, float *dot) {
    DISPATCH(relu_gated_sum_and_centred_dot, dy, y, x, shift, n, sum, dot)
}
void loom_relu_gated_scaled_plus_centred_affine(float *d, const float *dy, const float *y, float scale, const float *x,
                                                float centre, float slope, float shift, size_t n) {
    DISPATCH(relu_gated_scaled_plus_centred_affine, d, dy, y, scale, x, centre, slope, shift, n)
}
void loom_add_relu(float *y, const float *a, const float *b, size_t n) { DISPATCH(add_relu, y, a, b, n) }
void loom_relu_backward_twice(float *d1, float *d2, const float *dy, const float *y, size_t n) {
    DISPATCH(relu_backward_twice, d1, d2, dy, y, n)
}
void loom_pool_relu_plane(float *y, int32_t *argmax, float *selected, const float *x, const float *end, float scale,
                          float shift, size_t height, size_t width) {
    DISPATCH(pool_relu_plane, y, argmax, selected, x, end, scale, shift, height, width)
}
void loom_add_into(float *out, const float *a, const float *b, size_t n) { DISPATCH(add_into, out, a, b, n) }
