// The direct convolution of CKernelsConv.h for three instruction paths (ConvBodies.h), and
// its dispatch on the path CKernels runs. Unlike the other kernels, every term is a fused
// multiply-add, written out (never contracted by the compiler: -ffp-contract=off): one
// instruction on the AVX2 and AVX-512 paths, the C library's correctly rounded fmaf on SSE2,
// which gives the same bits. An AVX2 CPU without FMA runs the SSE2 body.
//
// Layout. Each input plane is copied once per sample into a zero-padded polyphase layout:
// s² sub-planes of ⌈(H + 2p) / s⌉ rows of wq = ⌈(W + 2p) / s⌉ floats. Output (oy, ox) then
// lives at grid index g = oy·wq + ox, and tap (ky, kx) reads sub-plane (ky mod s, kx mod s)
// at g + (ky / s)·wq + kx / s: every tap of every channel is one flat, unit-stride vector
// loop over the grid. The grid has wq − OW more columns than the output; they are computed
// and dropped (forward) or read as zeros of dy (weight gradient).
//
// The compact layout (forward and dx of a "same" stride-1 convolution, k = 2p + 1, p < W):
// no padding columns. Each channel is copied k times, once per kernel column kx, as rows of
// exactly W floats with p zero rows above and below; output (oy, ox) lives at g = oy·W + ox
// and tap (ky, kx) reads copy kx at g + ky·W + kx − p. A read left of column 0 (kx < p)
// lands on the previous row's last p − kx columns and one right of column W − 1 (kx > p) on
// the next row's first kx − p columns: copy kx has exactly those columns set to 0, which no
// read of an output inside the plane reaches otherwise. So every term reads what the
// padded layout reads (the image value or +0), in the same order: the same bits, on a grid
// of ⌈OH·W / 16⌉ vectors instead of ⌈OH·(W + 2p) / 16⌉ (28×28: 49 instead of 53; 14×14: 13
// instead of 14).
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "CKernels.h"
#include "Polyphase.h"
#include "ThreadScratch.h"
#include "ConvTranspose.h"

// Each ISA path passes vectors by value only between its own static functions, compiled with
// the same target, so the ABI clang warns about (-Wpsabi) is never crossed.
#pragma clang diagnostic ignored "-Wpsabi"
typedef float v16f __attribute__((vector_size(64)));

/// Output channels per register block. The packed weights of every path share it.
#define CV_OCB 4

struct cv_geometry {
    long c, oc, h, w, k, s, p;
    long hp, wp, hq, wq, oh, ow;
    long taps;
    long grid;            // oh·wq rounded up to 16: the outputs computed per plane
    long plane_stride;    // floats per sub-plane, with room for the reads past its last row
    long chan_stride;     // s² sub-planes
    long oc_blocks;       // ⌈OC / CV_OCB⌉
    long compact;         // the compact layout: chan_stride = k copies of plane_stride
    long lead;            // compact: zeros before each copy's first row (reads reach g − p)
};

/// Whether the forward pass of `s` takes the compact layout (see the header).
static int cv_takes_compact(const struct loom_conv_shape *s) {
    return s->stride == 1 && s->kernel > 1 && s->kernel == 2 * s->padding + 1 && s->padding < s->width;
}


static struct cv_geometry cv_geometry(const struct loom_conv_shape *s) {
    struct cv_geometry g;
    g.c = s->in_channels;
    g.oc = s->out_channels;
    g.h = s->height;
    g.w = s->width;
    g.k = s->kernel;
    g.s = s->stride;
    g.p = s->padding;
    struct polyphase l = polyphase_layout(g.h, g.w, g.k, g.s, g.p);
    g.hp = l.hp; g.wp = l.wp; g.hq = l.hq; g.wq = l.wq; g.oh = l.oh; g.ow = l.ow;
    g.taps = g.k * g.k;
    g.grid = l.grid;
    g.plane_stride = l.plane_stride;
    g.chan_stride = g.s * g.s * g.plane_stride;
    g.oc_blocks = (g.oc + CV_OCB - 1) / CV_OCB;
    g.compact = 0;
    g.lead = 0;
    return g;
}

/// The compact geometry of a shape that `cv_takes_compact`.
static struct cv_geometry cv_compact_geometry(const struct loom_conv_shape *s) {
    struct cv_geometry g = cv_geometry(s);
    g.compact = 1;
    g.wq = g.w;
    g.hq = g.hp;
    g.grid = polyphase_round16(g.oh * g.w);
    // At least p zeros before the first row, and the image's first row 64-byte aligned: the
    // copies are then whole aligned vector stores.
    g.lead = (16 - g.p * g.w % 16) % 16;
    while (g.lead < g.p) g.lead += 16;
    long reach = (g.k - 1) * g.w + (g.k - 1 - g.p);
    long rows = g.hp * g.w;
    g.plane_stride = polyphase_round16(g.lead + (rows > g.grid + reach ? rows : g.grid + reach));
    g.chan_stride = g.k * g.plane_stride;
    return g;
}

/// The offset of each tap (ky, kx) from a grid index, in the polyphase copy of one channel.
static void cv_tap_offsets(long *off, const struct cv_geometry *g) {
    if (g->compact) {
        for (long ky = 0; ky < g->k; ky++) {
            for (long kx = 0; kx < g->k; kx++) off[ky * g->k + kx] = kx * g->plane_stride + g->lead + ky * g->w + kx - g->p;
        }
        return;
    }
    for (long ky = 0; ky < g->k; ky++) {
        for (long kx = 0; kx < g->k; kx++) {
            long phase = (ky % g->s) * g->s + kx % g->s;
            off[ky * g->k + kx] = phase * g->plane_stride + (ky / g->s) * g->wq + kx / g->s;
        }
    }
}

/// The calling thread's grid scratch of at least `bytes`, zeroed (ThreadScratch.h); NULL when
/// out of memory. Zeroing a buffer that is already mapped and in cache costs little.
static void *cv_zeroed(size_t bytes) {
    if (!bytes) bytes = 64;
    void *p = loom_thread_scratch(LOOM_SCRATCH_GRID, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

#define LOOM_SUFFIX sse2
#define CV_VB 1
#include "ConvBodies.h"
#undef CV_VB
#undef LOOM_SUFFIX

#pragma clang attribute push(__attribute__((target("avx,avx2,fma"))), apply_to = function)
#define LOOM_SUFFIX avx2
#define CV_VB 2
#include "ConvBodies.h"
#undef CV_VB
#undef LOOM_SUFFIX
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx,avx2,fma,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#define LOOM_SUFFIX avx512
#define CV_VB 5
#include "ConvBodies.h"
#undef CV_VB
#undef LOOM_SUFFIX
#pragma clang attribute pop

/// The body to run: the path's, except AVX2 without FMA (SSE2's, the same bits).
static int cv_path(void) {
    int path = loom_kernels_path();
    if (path == LOOM_PATH_AVX2 && !(loom_cpu_features() & LOOM_CPU_FMA)) return LOOM_PATH_SSE2;
    return path;
}

/// The forward pass; `flipped`: the weights are those of the convolution this one transposes,
/// (C, OC, k, k), read flipped in (ky, kx).
static int cv_forward(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                      const struct loom_conv_shape *shape, int flipped) {
    struct cv_geometry g = cv_takes_compact(shape) ? cv_compact_geometry(shape) : cv_geometry(shape);
    // Weights packed as (OC / CV_OCB, C, k², CV_OCB), the output channels past OC zero.
    size_t packed = (size_t)(g.oc_blocks * CV_OCB * g.c * g.taps);
    size_t floats = (size_t)(g.c * g.chan_stride) + (size_t)(g.oc_blocks * CV_OCB * g.grid) + packed
                    + (size_t)(g.oc_blocks * CV_OCB);
    float *scratch = cv_zeroed(floats * sizeof(float) + (size_t)g.taps * sizeof(long));
    if (!scratch) return 0;
    float *planes = scratch, *grid = planes + g.c * g.chan_stride, *wpack = grid + g.oc_blocks * CV_OCB * g.grid;
    float *bpack = wpack + packed;
    long *off = (long *)(bpack + g.oc_blocks * CV_OCB);
    cv_tap_offsets(off, &g);
    for (long o = 0; o < g.oc; o++) {
        float *dst = wpack + (o / CV_OCB) * g.c * g.taps * CV_OCB + o % CV_OCB;
        for (long c = 0; c < g.c; c++) {
            for (long t = 0; t < g.taps; t++) {
                dst[(c * g.taps + t) * CV_OCB] = flipped ? weight[(c * g.oc + o) * g.taps + (g.taps - 1 - t)]
                                                         : weight[(o * g.c + c) * g.taps + t];
            }
        }
        if (bias) bpack[o] = bias[o];
    }
    switch (cv_path()) {
    case LOOM_PATH_AVX512: conv_forward_avx512(y, x, wpack, bpack, batch, &g, planes, grid, off); break;
    case LOOM_PATH_AVX2: conv_forward_avx2(y, x, wpack, bpack, batch, &g, planes, grid, off); break;
    default: conv_forward_sse2(y, x, wpack, bpack, batch, &g, planes, grid, off); break;
    }
    return 1;
}

int loom_conv_forward(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                      const struct loom_conv_shape *shape) {
    return cv_forward(y, x, weight, bias, batch, shape, 0);
}

int loom_conv_input_gradient(float *dx, const float *dy, const float *weight, size_t batch,
                             const struct loom_conv_shape *shape) {
    struct loom_conv_shape t = loom_conv_transposed_shape(shape);
    return cv_forward(dx, dy, weight, NULL, batch, &t, 1);
}

int loom_conv_weight_gradient(float *dweight, const float *dy, const float *x, size_t batch,
                              const struct loom_conv_shape *shape) {
    struct cv_geometry g = cv_geometry(shape);
    size_t floats = (size_t)(g.c * g.chan_stride) + (size_t)(g.oc * g.grid) + (size_t)(g.oc * g.c * g.taps);
    float *scratch = cv_zeroed(floats * sizeof(float) + (size_t)g.taps * sizeof(long));
    if (!scratch) return 0;
    float *planes = scratch, *dygrid = planes + g.c * g.chan_stride, *sample = dygrid + g.oc * g.grid;
    long *off = (long *)(sample + g.oc * g.c * g.taps);
    cv_tap_offsets(off, &g);
    switch (cv_path()) {
    case LOOM_PATH_AVX512: conv_weight_gradient_avx512(dweight, dy, x, batch, &g, planes, dygrid, sample, off); break;
    case LOOM_PATH_AVX2: conv_weight_gradient_avx2(dweight, dy, x, batch, &g, planes, dygrid, sample, off); break;
    default: conv_weight_gradient_sse2(dweight, dy, x, batch, &g, planes, dygrid, sample, off); break;
    }
    return 1;
}
