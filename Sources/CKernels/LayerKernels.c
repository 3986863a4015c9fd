// The layer kernels of CKernelsLayers.h for three instruction paths, and their dispatch on
// the path CKernels runs (loom_kernels_path). Compiled with -ffp-contract=off like
// Kernels.c: no path may fuse a multiply and an add that another path rounds twice.
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "CKernels.h"
#include "Polyphase.h"

// Each ISA path passes vectors by value only between its own static functions, compiled with
// the same target, so the ABI clang warns about (-Wpsabi) is never crossed.
#pragma clang diagnostic ignored "-Wpsabi"
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
    int dx_gather;        // dx gathered into its rows (stride 1, (k − 1) / 2 ≤ p ≤ k − 1), else by phase
    long lead;            // zeros before dy's grid in its copy: (k − 1 − p)·(wq + 1) when gathered
                          // into rows, ((k − 1) / s)·(wq + 1) by phase
    long sub_vectors;     // vectors of one sub-plane the phases compute: ⌈hq·wq / 16⌉
    long dyp_floats;      // the copy of dy: lead, grid, and what the gathering reads past it
    long dplanes_floats;  // dx's polyphase planes, gathered by phase (0 when gathered into rows)
    long dxgrid;          // the gathered dx's grid, h·wq rounded up to 16 (0 when by phase)
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
    g.lead = g.dx_gather ? (g.k - 1 - g.p) * (g.wq + 1) : ((g.k - 1) / g.stride) * (g.wq + 1);
    g.sub_vectors = polyphase_round16(g.hq * g.wq) / 16;
    g.dxgrid = g.dx_gather ? polyphase_round16(g.h * g.wq) : 0;
    g.dxgrid_floats = g.dx_gather ? g.dxgrid + 16 : 0;
    long gathered = g.dx_gather ? g.dxgrid + (g.k - 1) * (g.wq + 1) + 16 : g.lead + 16 * g.sub_vectors + 16;
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


/// The geometry of the 16-channel lane kernel (DepthwiseLanes.h) and its scratch layout.
struct dw_lanes {
    long channels, h, w, k, stride, p, taps;
    long hp, wp;      // padded input plane, in vectors
    long oh, ow;      // output plane
    long dwp, dhp;    // dy with a border of k − 1 vectors on every side
    long blocks;      // ⌈channels / 16⌉
};

/// Whether the lane kernel takes a shape: when the polyphase kernel's output grid (oh rows
/// of wq, rounded up to 16) holds at least 5/4 as many lanes as the plane has outputs (7 × 7
/// planes, strided 14 × 14 ones), on planes of at most 64 × 64 pixels. Its transpositions
/// cost more than the polyphase copies, so it wins only where the grid wastes lanes. A
/// choice by shape alone, the same on every host.
static int dw_lanes_takes(const struct loom_depthwise_shape *s) {
    if (s->height * s->width > 4096) return 0;
    struct polyphase l = polyphase_layout(s->height, s->width, s->kernel, s->stride, s->padding);
    return 4 * l.grid >= 5 * l.oh * l.ow;
}

static struct dw_lanes dw_lanes_geometry(const struct loom_depthwise_shape *s) {
    struct dw_lanes g;
    g.channels = s->channels;
    g.h = s->height;
    g.w = s->width;
    g.k = s->kernel;
    g.stride = s->stride;
    g.p = s->padding;
    g.taps = g.k * g.k;
    g.hp = g.h + 2 * g.p;
    g.wp = g.w + 2 * g.p;
    g.oh = (g.hp - g.k) / g.stride + 1;
    g.ow = (g.wp - g.k) / g.stride + 1;
    g.dhp = g.oh + 2 * (g.k - 1);
    g.dwp = g.ow + 2 * (g.k - 1);
    g.blocks = (g.channels + 15) / 16;
    return g;
}

/// Lines to ask for ahead of their use: n[i] floats from p[i].
struct dw_ahead {
    const float *p[2];
    long n[2];
};

/// Pointers into the lane kernel's scratch.
struct dw_lanes_scratch {
    float *x, *y, *dy, *dx, *weight, *dweight, *sums;
    long *x_index, *dy_index, *offset, *dx_offset, *phase;
};

/// The scratch's size: floats (each part a multiple of 16) and longs.
static void dw_lanes_size(const struct dw_lanes *g, long *floats, long *longs) {
    long s = g->stride;
    *floats = 16 * (g->hp * g->wp + g->oh * g->ow + g->dhp * g->dwp + g->h * g->w + 2 * g->blocks * g->taps + g->taps);
    *longs = g->h * g->w + g->oh * g->ow + 2 * g->taps + s * s + 1;
}

/// Lays out the scratch (zeroed) and fills its tables: where each pixel of x and dy goes in
/// its padded plane of vectors, the forward's tap offsets, and dx's taps grouped by phase.
static struct dw_lanes_scratch dw_lanes_scratch(const struct dw_lanes *g, float *scratch) {
    struct dw_lanes_scratch m;
    long s = g->stride, k = g->k, border = k - 1;
    m.x = scratch;
    m.y = m.x + 16 * g->hp * g->wp;
    m.dy = m.y + 16 * g->oh * g->ow;
    m.dx = m.dy + 16 * g->dhp * g->dwp;
    m.weight = m.dx + 16 * g->h * g->w;
    m.dweight = m.weight + 16 * g->blocks * g->taps;
    m.sums = m.dweight + 16 * g->blocks * g->taps;
    m.x_index = (long *)(void *)(m.sums + 16 * g->taps);
    m.dy_index = m.x_index + g->h * g->w;
    m.offset = m.dy_index + g->oh * g->ow;
    m.dx_offset = m.offset + g->taps;
    m.phase = m.dx_offset + g->taps;
    for (long iy = 0; iy < g->h; iy++)
        for (long ix = 0; ix < g->w; ix++) m.x_index[iy * g->w + ix] = (iy + g->p) * g->wp + ix + g->p;
    for (long oy = 0; oy < g->oh; oy++)
        for (long ox = 0; ox < g->ow; ox++) m.dy_index[oy * g->ow + ox] = (oy + border) * g->dwp + ox + border;
    for (long t = 0; t < g->taps; t++) m.offset[t] = 16 * ((t / k) * g->wp + t % k);
    // Phase (a, b) holds the taps ky ≡ a, kx ≡ b (mod s) in (ky, kx) order. Input (iy, ix) of
    // that phase, ry = (iy + p) / s and cx = (ix + p) / s, takes from tap (ky, kx) the dy at
    // (ry − (ky − a) / s, cx − (kx − b) / s), border vectors further in its plane.
    long n = 0;
    for (long a = 0; a < s; a++)
        for (long b = 0; b < s; b++) {
            m.phase[a * s + b] = n;
            for (long ky = a; ky < k; ky += s)
                for (long kx = b; kx < k; kx += s)
                    m.dx_offset[n++] = 16 * ((border - (ky - a) / s) * g->dwp + border - (kx - b) / s);
        }
    m.phase[s * s] = n;
    return m;
}

/// Per block of 16 channels and tap, a vector of `per_channel` (channels × taps): lane j
/// holds channel 16·block + j's (0 past the last channel). In dx's phase order when
/// `by_phase`, else in tap order.
static void dw_lanes_weights(float *dst, const float *per_channel, const struct dw_lanes *g, int by_phase) {
    long s = g->stride, k = g->k, taps = g->taps;
    long order[taps];
    long n = 0;
    if (by_phase) {
        for (long a = 0; a < s; a++)
            for (long b = 0; b < s; b++)
                for (long ky = a; ky < k; ky += s)
                    for (long kx = b; kx < k; kx += s) order[n++] = ky * k + kx;
    } else {
        for (long t = 0; t < taps; t++) order[t] = t;
    }
    for (long block = 0; block < g->blocks; block++)
        for (long i = 0; i < taps; i++)
            for (long j = 0; j < 16; j++) {
                long c = 16 * block + j;
                dst[16 * (block * taps + i) + j] = c < g->channels ? per_channel[c * taps + order[i]] : 0.0f;
            }
}

#define LOOM_SUFFIX sse2
#define LOOM_MASKED 0
#include "LayerBodies.h"
#include "DepthwiseLanes.h"
#undef LOOM_SUFFIX
#undef LOOM_MASKED

#pragma clang attribute push(__attribute__((target("avx,avx2"))), apply_to = function)
#define LOOM_SUFFIX avx2
#define LOOM_MASKED 1
#include "LayerBodies.h"
#include "DepthwiseLanes.h"
#undef LOOM_SUFFIX
#undef LOOM_MASKED
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx,avx2,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#define LOOM_SUFFIX avx512
#define LOOM_MASKED 2
#include "LayerBodies.h"
#include "DepthwiseLanes.h"
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
    if (dw_lanes_takes(shape)) return loom_depthwise_lanes_forward(y, x, weight, bias, batch, shape);
    return loom_depthwise_polyphase_forward(y, x, weight, bias, batch, shape);
}

int loom_depthwise_backward(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                            const float *weight, size_t batch, const struct loom_depthwise_shape *shape) {
    if (dw_lanes_takes(shape)) return loom_depthwise_lanes_backward(dx, dweight, dbias, dy, x, weight, batch, shape);
    return loom_depthwise_polyphase_backward(dx, dweight, dbias, dy, x, weight, batch, shape);
}

int loom_depthwise_lanes_forward(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                                 const struct loom_depthwise_shape *shape) {
    struct dw_lanes g = dw_lanes_geometry(shape);
    long floats, longs;
    dw_lanes_size(&g, &floats, &longs);
    float *scratch = dw_scratch(floats, longs);
    if (!scratch) return 0;
    switch (loom_kernels_path()) {
    case LOOM_PATH_AVX512: depthwise_lanes_forward_avx512(y, x, weight, bias, batch, &g, scratch); break;
    case LOOM_PATH_AVX2: depthwise_lanes_forward_avx2(y, x, weight, bias, batch, &g, scratch); break;
    default: depthwise_lanes_forward_sse2(y, x, weight, bias, batch, &g, scratch); break;
    }
    free(scratch);
    return 1;
}

int loom_depthwise_lanes_backward(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                                  const float *weight, size_t batch, const struct loom_depthwise_shape *shape) {
    struct dw_lanes g = dw_lanes_geometry(shape);
    long floats, longs;
    dw_lanes_size(&g, &floats, &longs);
    float *scratch = dw_scratch(floats, longs);
    if (!scratch) return 0;
    switch (loom_kernels_path()) {
    case LOOM_PATH_AVX512: depthwise_lanes_backward_avx512(dx, dweight, dbias, dy, x, weight, batch, &g, scratch); break;
    case LOOM_PATH_AVX2: depthwise_lanes_backward_avx2(dx, dweight, dbias, dy, x, weight, batch, &g, scratch); break;
    default: depthwise_lanes_backward_sse2(dx, dweight, dbias, dy, x, weight, batch, &g, scratch); break;
    }
    free(scratch);
    return 1;
}

int loom_depthwise_polyphase_forward(float *y, const float *x, const float *weight, const float *bias,
                                     size_t batch, const struct loom_depthwise_shape *shape) {
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

int loom_depthwise_polyphase_backward(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                                      const float *weight, size_t batch, const struct loom_depthwise_shape *shape) {
    struct dw_geometry g = dw_geometry(shape);
    long taps = g.k * g.k;
    long floats = g.planes_floats + g.dyp_floats + 2 * g.row_floats + g.dplanes_floats + g.dxgrid_floats +
                  polyphase_round16(taps);
    float *scratch = dw_scratch(floats, 4 * taps + g.stride * g.stride + 1);
    if (!scratch) return 0;
    switch (loom_kernels_path()) {
    case LOOM_PATH_AVX512: depthwise_backward_avx512(dx, dweight, dbias, dy, x, weight, batch, &g, scratch); break;
    case LOOM_PATH_AVX2: depthwise_backward_avx2(dx, dweight, dbias, dy, x, weight, batch, &g, scratch); break;
    default: depthwise_backward_sse2(dx, dweight, dbias, dy, x, weight, batch, &g, scratch); break;
    }
    free(scratch);
    return 1;
}
