// The layer kernels of CKernelsLayers.h for three instruction paths, and their dispatch on
// the path CKernels runs (loom_kernels_path). Compiled with -ffp-contract=off like
// Kernels.c: no path may fuse a multiply and an add that another path rounds twice.
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "CKernels.h"
#include "Polyphase.h"

typedef float v16f __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef uint32_t v16u __attribute__((vector_size(64)));

/// A depthwise convolution's geometry and the layout of its scratch copies (LayerBodies.h,
/// "Depthwise convolution"). Every count of floats is a multiple of 16.
struct dw_geometry {
    long channels, h, w, k, stride, p;
    long hp, wp;          // padded plane
    long hq, wq;          // one sub-plane: ⌈hp / s⌉ rows of ⌈wp / s⌉
    long oh, ow;          // output plane
    long grid;            // oh·wq rounded up to 16: the outputs computed per plane
    long grid_floats;     // the forward's output grid, with room for reading its last row 16 wide
    long plane_stride;    // floats per sub-plane, with room for the reads past its last row and
                          // for the 16-wide writes of its rows
    long planes_floats;   // s² sub-planes
    long row_floats;      // one padded row, s·wq
    int dx_gather;        // dx gathered (stride 1, (k − 1) / 2 ≤ p ≤ k − 1), else scattered
    long lead;            // zeros before dy's grid in its copy: (k − 1 − p)·(wq + 1) when gathered
    long dyp_floats;      // the copy of dy: lead, grid, and what the gathering reads past it
    long dplanes_floats;  // the scattered dx's polyphase planes (0 when gathered)
    long dxgrid;          // the gathered dx's grid, h·wq rounded up to 16 (0 when scattered)
    long dxgrid_floats;
};

static long dw_max(long a, long b) { return a > b ? a : b; }

static struct dw_geometry dw_geometry(const struct loom_depthwise_shape *s) {
    struct dw_geometry g;
    g.channels = s->channels;
    g.h = s->height;
    g.w = s->width;
    g.k = s->kernel;
    g.stride = s->stride;
    g.p = s->padding;
    struct polyphase l = polyphase_layout(g.h, g.w, g.k, g.stride, g.p);
    g.hp = l.hp; g.wp = l.wp; g.hq = l.hq; g.wq = l.wq; g.oh = l.oh; g.ow = l.ow;
    g.grid = l.grid;
    g.grid_floats = g.grid + 16;
    g.plane_stride = polyphase_round16(dw_max(l.plane_stride, g.hq * g.wq + 32));
    g.planes_floats = g.stride * g.stride * g.plane_stride;
    g.row_floats = polyphase_round16(g.stride * g.wq);
    g.dx_gather = g.stride == 1 && 2 * g.p >= g.k - 1 && g.p <= g.k - 1;
    g.lead = g.dx_gather ? (g.k - 1 - g.p) * (g.wq + 1) : 0;
    g.dxgrid = g.dx_gather ? polyphase_round16(g.h * g.wq) : 0;
    g.dxgrid_floats = g.dx_gather ? g.dxgrid + 16 : 0;
    long gathered = g.dx_gather ? g.dxgrid + (g.k - 1) * (g.wq + 1) + 16 : 0;
    g.dyp_floats = polyphase_round16(dw_max(g.lead + g.grid + 16, gathered));
    g.dplanes_floats = g.dx_gather ? 0 : g.planes_floats;
    return g;
}

/// Zeroed scratch of `floats` floats plus `longs` longs, 64-byte aligned; NULL when out of memory.
static float *dw_scratch(long floats, long longs) {
    size_t bytes = (size_t)floats * sizeof(float) + (size_t)longs * sizeof(long);
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    memset(p, 0, bytes);
    return p;
}

#define LOOM_SUFFIX sse2
#define LOOM_MASKED 0
#include "LayerBodies.h"
#undef LOOM_SUFFIX
#undef LOOM_MASKED

#pragma clang attribute push(__attribute__((target("avx,avx2"))), apply_to = function)
#define LOOM_SUFFIX avx2
#define LOOM_MASKED 1
#include "LayerBodies.h"
#undef LOOM_SUFFIX
#undef LOOM_MASKED
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx,avx2,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#define LOOM_SUFFIX avx512
#define LOOM_MASKED 2
#include "LayerBodies.h"
#undef LOOM_SUFFIX
#undef LOOM_MASKED
#pragma clang attribute pop

/// Calls `name`'s body for the path CKernels runs.
#define DISPATCH(name, ...)                                                 \
    switch (loom_kernels_path()) {                                          \
    case LOOM_PATH_AVX512: return name##_avx512(__VA_ARGS__);               \
    case LOOM_PATH_AVX2: return name##_avx2(__VA_ARGS__);                   \
    default: return name##_sse2(__VA_ARGS__);                               \
    }

float loom_exp_nonpositive(float a) { DISPATCH(exp_nonpositive_scalar, a) }
float loom_logistic(float x) { DISPATCH(logistic_scalar, x) }
void loom_silu(float *y, const float *x, size_t n) { DISPATCH(silu, y, x, n) }
void loom_silu_backward(float *dx, const float *dy, const float *x, size_t n) { DISPATCH(silu_backward, dx, dy, x, n) }
float loom_dot(const float *a, const float *b, size_t n) { DISPATCH(dot, a, b, n) }
void loom_scale(float *q, const float *p, float scale, size_t n) { DISPATCH(scale, q, p, scale, n) }
void loom_stream_copy(float *a, const float *b, size_t n) { DISPATCH(stream_copy, a, b, n) }
void loom_stream_triad(float *a, const float *b, const float *c, float scalar, size_t n) {
    DISPATCH(stream_triad, a, b, c, scalar, n)
}

int loom_depthwise_forward(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                           const struct loom_depthwise_shape *shape) {
    struct dw_geometry g = dw_geometry(shape);
    long taps = g.k * g.k;
    float *scratch = dw_scratch(2 * g.planes_floats + 2 * g.grid_floats + g.row_floats, taps);
    if (!scratch) return 0;
    switch (loom_kernels_path()) {
    case LOOM_PATH_AVX512: depthwise_forward_avx512(y, x, weight, bias, batch, &g, scratch); break;
    case LOOM_PATH_AVX2: depthwise_forward_avx2(y, x, weight, bias, batch, &g, scratch); break;
    default: depthwise_forward_sse2(y, x, weight, bias, batch, &g, scratch); break;
    }
    free(scratch);
    return 1;
}

int loom_depthwise_backward(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                            const float *weight, size_t batch, const struct loom_depthwise_shape *shape) {
    struct dw_geometry g = dw_geometry(shape);
    long taps = g.k * g.k;
    long floats = g.planes_floats + g.dyp_floats + 2 * g.row_floats + g.dplanes_floats + g.dxgrid_floats;
    float *scratch = dw_scratch(floats, 2 * taps);
    if (!scratch) return 0;
    switch (loom_kernels_path()) {
    case LOOM_PATH_AVX512: depthwise_backward_avx512(dx, dweight, dbias, dy, x, weight, batch, &g, scratch); break;
    case LOOM_PATH_AVX2: depthwise_backward_avx2(dx, dweight, dbias, dy, x, weight, batch, &g, scratch); break;
    default: depthwise_backward_sse2(dx, dweight, dbias, dy, x, weight, batch, &g, scratch); break;
    }
    free(scratch);
    return 1;
}
