// Winograd F(2×2, 3×3) convolution (CKernelsWinograd.h) for 3×3, stride-1, padding-1 layers,
// forward and dx, on three instruction paths (WinogradBodies.h) with the same bits, and the
// weight gradient (WinogradWeightBodies.h: the same transforms taken backwards).
//
// Layout. Output tile (ty, tx) is the 2×2 block at (2ty, 2tx); its input patch d is the 4×4
// block at (2ty − 1, 2tx − 1). Tiles are numbered over the whole batch, (n, ty, tx) in order,
// so a register block of tiles fills on small planes too (a 2×2 plane is one tile per sample).
// - The input is copied once into a zero-padded, channel-last copy (N, hp, wp, cp), image
//   pixel (iy, ix) at (iy + 1, ix + 1), cp = C rounded up to 16 floats per pixel, and
//   hp × wp = (2·ty + 2) × (2·tx + 2), so an odd plane's last tiles read zeros past its edge.
// - The weights are transformed once per call into U (16, OC / 16, C, 16): lane l of
//   (ξ, u, c) is U[ξ] of output channel 16u + l and input channel c.
// - Tiles run in chunks whose V (16, tiles, vp) stays in L2 (about 256 KB): the input
//   transform writes a chunk's V, then every unit of 16 output channels runs the chunk's tiles
//   in register blocks (for each ξ, one weight vector and one broadcast of V per fused
//   multiply-add), and the output transform writes the block's tiles into y.
//
// The arithmetic (Lavin and Gray 2016, F(2, 3) in each axis):
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 −1 −1],  y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A.
// Each transform is applied to rows first, then to columns, as the fixed sums written out
// below and in WinogradBodies.h; ½ is an exact multiplication.
#include <stdlib.h>
#include <string.h>

#include "CKernels.h"
#include "CKernelsWinograd.h"
#include "ThreadScratch.h"
#include "ConvTranspose.h"

// The sse2 and avx2 paths pass v16f by value between their own static functions, compiled
// with the same target, so the ABI clang warns about (-Wpsabi) is never crossed.
#pragma clang diagnostic ignored "-Wpsabi"
typedef float v16f __attribute__((vector_size(64)));

struct wg_geometry {
    long c, oc, h, w;
    long ty, tx, tiles;   // tiles per column, per row, per sample
    long hp, wp, cp;      // the padded channel-last copy: rows, columns, floats per pixel
    long cunits, units;   // ⌈C / 16⌉, ⌈OC / 16⌉
    long vp, vs;          // V of a chunk (16, tiles, vp): floats per tile, per ξ
};

int loom_winograd_takes(const struct loom_conv_shape *s) {
    return s->kernel == 3 && s->stride == 1 && s->padding == 1 && s->height >= 1 && s->width >= 1;
}

static struct wg_geometry wg_geometry(const struct loom_conv_shape *s) {
    struct wg_geometry g;
    g.c = s->in_channels;
    g.oc = s->out_channels;
    g.h = s->height;
    g.w = s->width;
    g.ty = (g.h + 1) / 2;
    g.tx = (g.w + 1) / 2;
    g.tiles = g.ty * g.tx;
    g.hp = 2 * g.ty + 2;
    g.wp = 2 * g.tx + 2;
    g.cunits = (g.c + 15) / 16;
    g.units = (g.oc + 15) / 16;
    g.cp = g.cunits * 16;
    // Tiles of a register block, one V row apart, fall in different L1 sets when a row is
    // not a multiple of 128 bytes (as ChannelConvKernels.c's copies).
    g.vp = g.cp % 32 == 0 ? g.cp + 16 : g.cp;
    g.vs = 0;
    return g;
}

// The weight transform (per path, WinogradBodies.h), U = G g Gᵀ of each 3×3 filter g: rows,
// then columns, each (g0, ((g0 + g1) + g2)·½, ((g0 − g1) + g2)·½, g2), into U (16, units, C,
// 16) from w (OC, C, 3, 3), or flipped, from the (C, OC, 3, 3) weights of the convolution this
// one transposes read flipped in (ky, kx); lanes past OC 0.

#define LOOM_SUFFIX sse2
#define WG_PB1 2
#define WG_PB2 2
#define WG_DW_PB1 2
#define WG_DW_PB2 1
#include "WinogradBodies.h"
#include "WinogradWeightBodies.h"
#undef WG_PB1
#undef WG_PB2
#undef WG_DW_PB1
#undef WG_DW_PB2
#undef LOOM_SUFFIX

#pragma clang attribute push(__attribute__((target("avx,avx2,fma"))), apply_to = function)
#define LOOM_SUFFIX avx2
#define WG_PB1 6
#define WG_PB2 3
#define WG_DW_PB1 4
#define WG_DW_PB2 2
#include "WinogradBodies.h"
#include "WinogradWeightBodies.h"
#undef WG_PB1
#undef WG_PB2
#undef WG_DW_PB1
#undef WG_DW_PB2
#undef LOOM_SUFFIX
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx,avx2,fma,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#define LOOM_SUFFIX avx512
#define WG_PB1 16
#define WG_PB2 12
#define WG_DW_PB1 16
#define WG_DW_PB2 8
#include "WinogradBodies.h"
#include "WinogradWeightBodies.h"
#undef WG_PB1
#undef WG_PB2
#undef WG_DW_PB1
#undef WG_DW_PB2
#undef LOOM_SUFFIX
#pragma clang attribute pop

/// The bodies of the path CKernels runs: the path's, except AVX2 without FMA (SSE2's, the
/// same bits).
struct wg_body {
    void (*pack_weights)(float *u_pack, const float *weight, const struct wg_geometry *g, int flipped);
    void (*load_padded)(float *xp, const float *x, size_t batch, const struct wg_geometry *g);
    void (*store_output)(float *y, const float *ys, size_t batch, const struct wg_geometry *g);
    void (*input_transform)(float *v, const float *xp, const struct wg_geometry *g, long first, long count);
    void (*multiply_chunk)(float *y, const float *u_pack, const float *v, long first, long count,
                           const struct wg_geometry *g, const float *bias, float *tmp);
    void (*dy_transform)(float *wy, const float *dyp, const struct wg_geometry *gy, long first, long count, long yp,
                         long ys);
    void (*dw_multiply_chunk)(float *m, const float *wy, const float *v, long count, const struct wg_geometry *g,
                              long yp, long ys);
    void (*dw_output)(float *dweight, const float *m, const struct wg_geometry *g);
};

static struct wg_body wg_body(void) {
    int path = loom_kernels_path();
    if (path == LOOM_PATH_AVX2 && !(loom_cpu_features() & LOOM_CPU_FMA)) path = LOOM_PATH_SSE2;
    switch (path) {
    case LOOM_PATH_AVX512: return (struct wg_body){pack_weights_avx512, load_padded_avx512, store_output_avx512, input_transform_avx512, multiply_chunk_avx512,
                                   dy_transform_avx512, dw_multiply_chunk_avx512, dw_output_avx512};
    case LOOM_PATH_AVX2: return (struct wg_body){pack_weights_avx2, load_padded_avx2, store_output_avx2, input_transform_avx2, multiply_chunk_avx2,
                                   dy_transform_avx2, dw_multiply_chunk_avx2, dw_output_avx2};
    default: return (struct wg_body){pack_weights_sse2, load_padded_sse2, store_output_sse2, input_transform_sse2, multiply_chunk_sse2,
                                   dy_transform_sse2, dw_multiply_chunk_sse2, dw_output_sse2};
    }
}

/// Room for a register block's sums on any path: 16 ξ × 2 units × 16 tiles × 16 floats.
#define WG_TMP_FLOATS (16 * 2 * 16 * 16)

/// Floats of a forward pass's scratch past its padded input copy (U, V, bias, sums, staging
/// copy of y), and its tiles per chunk (`chunk`) with g->vs set from them.
static size_t wg_forward_floats(struct wg_geometry *g, size_t batch, long *chunk) {
    long total = (long)batch * g->tiles;
    // Tiles per chunk: V of about 256 KB, a multiple of 48 (every path's block sizes divide it).
    long c = 65536 / (16 * g->vp) / 48 * 48;
    if (c < 48) c = 48;
    if (c > total) c = total;
    *chunk = c;
    g->vs = c * g->vp;
    size_t u_floats = (size_t)(16 * g->units * g->c * 16);
    size_t v_floats = (size_t)(16 * g->vs);
    size_t ys_floats = (batch * (size_t)(4 * g->tiles) + 16) * (size_t)(16 * g->units);
    return u_floats + v_floats + ys_floats + (size_t)(g->units * 16) + WG_TMP_FLOATS;
}

/// The forward pass from the padded channel-last copy xp of its input, with `mem` holding
/// wg_forward_floats floats (g and chunk as that function set them).
static void wg_forward_padded(float *y, const float *xp, const float *weight, const float *bias, size_t batch,
                              const struct wg_geometry *g, long chunk, int flipped, float *mem) {
    struct wg_body body = wg_body();
    long total = (long)batch * g->tiles;
    float *u_pack = mem, *v = u_pack + 16 * g->units * g->c * 16, *bpack = v + 16 * g->vs;
    float *tmp = bpack + g->units * 16, *ys = tmp + WG_TMP_FLOATS;
    for (long o = 0; o < g->units * 16; o++) bpack[o] = bias && o < g->oc ? bias[o] : 0;
    body.pack_weights(u_pack, weight, g, flipped);
    for (long first = 0; first < total; first += chunk) {
        long count = total - first < chunk ? total - first : chunk;
        body.input_transform(v, xp, g, first, count);
        body.multiply_chunk(ys, u_pack, v, first, count, g, bias ? bpack : NULL, tmp);
    }
    body.store_output(y, ys, batch, g);
}

static int wg_forward(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                      const struct loom_conv_shape *shape, int flipped) {
    if (!loom_winograd_takes(shape)) return 0;
    struct wg_geometry g = wg_geometry(shape);
    long chunk;
    size_t rest = wg_forward_floats(&g, batch, &chunk);
    size_t xp_floats = batch * (size_t)(g.hp * g.wp * g.cp);
    float *scratch = loom_thread_scratch(LOOM_SCRATCH_WINOGRAD, (xp_floats + rest) * sizeof(float));
    if (!scratch) return 0;
    wg_body().load_padded(scratch, x, batch, &g);
    wg_forward_padded(y, scratch, weight, bias, batch, &g, chunk, flipped, scratch + xp_floats);
    return 1;
}

int loom_winograd_forward(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                          const struct loom_conv_shape *shape) {
    return wg_forward(y, x, weight, bias, batch, shape, 0);
}

int loom_winograd_input_gradient(float *dx, const float *dy, const float *weight, size_t batch,
                                 const struct loom_conv_shape *shape) {
    struct loom_conv_shape t = loom_conv_transposed_shape(shape);
    return wg_forward(dx, dy, weight, NULL, batch, &t, 1);
}

/// The padded copy's geometry of the layer's output (dy): the same plane and tiles, OC channels.
static struct wg_geometry wg_output_geometry(const struct wg_geometry *g) {
    struct wg_geometry gy = *g;
    gy.c = g->oc;
    gy.cunits = g->units;
    gy.cp = 16 * g->units;
    gy.vp = gy.cp % 32 == 0 ? gy.cp + 16 : gy.cp;
    return gy;
}

/// The weight gradient (as loom_winograd_weight_gradient) and, when dx is not NULL, dx (as
/// loom_winograd_input_gradient) from one padded copy of dy: both passes copy dy into the same
/// layout (the same plane, OC channels), so the second copy is skipped. The same bits as the
/// two calls.
static int wg_backward(float *dx, float *dweight, const float *dy, const float *x, const float *weight,
                       size_t batch, const struct loom_conv_shape *shape) {
    if (!loom_winograd_takes(shape)) return 0;
    struct wg_geometry g = wg_geometry(shape), gy = wg_output_geometry(&g);
    struct wg_body body = wg_body();
    long total = (long)batch * g.tiles, yp = gy.vp, ocp = gy.cp;
    // Tiles per chunk: one ξ's V and Ŷ of the chunk (32 KB) stay in L1 while every register
    // block sweeps them; at least 32 tiles, so that a block's sums are loaded and stored
    // once per 32 fused multiply-adds or more.
    long chunk = 8192 / (g.vp + yp);
    if (chunk < 32) chunk = 32;
    if (chunk > total) chunk = total;
    g.vs = chunk * g.vp;
    long ys = chunk * yp;
    size_t xp_floats = batch * (size_t)(g.hp * g.wp * g.cp), dyp_floats = batch * (size_t)(g.hp * g.wp * ocp);
    size_t v_floats = (size_t)(16 * g.vs), wy_floats = (size_t)(16 * ys), m_floats = (size_t)(16 * g.cp * ocp);
    size_t after = xp_floats + v_floats + wy_floats + m_floats;
    // dx: the forward pass of dy (the transposed shape, whose padded copy of dy is dyp's).
    struct loom_conv_shape t = loom_conv_transposed_shape(shape);
    struct wg_geometry gt = wg_geometry(&t);
    long chunk_t = 0;
    if (dx) {
        size_t rest = wg_forward_floats(&gt, batch, &chunk_t);
        if (rest > after) after = rest;
    }
    float *scratch = loom_thread_scratch(LOOM_SCRATCH_WINOGRAD, (dyp_floats + after) * sizeof(float));
    if (!scratch) return 0;
    float *dyp = scratch, *xp = dyp + dyp_floats, *v = xp + xp_floats, *wy = v + v_floats, *m = wy + wy_floats;
    memset(m, 0, m_floats * sizeof(float));
    body.load_padded(xp, x, batch, &g);
    body.load_padded(dyp, dy, batch, &gy);
    for (long first = 0; first < total; first += chunk) {
        long count = total - first < chunk ? total - first : chunk;
        body.input_transform(v, xp, &g, first, count);
        body.dy_transform(wy, dyp, &gy, first, count, yp, ys);
        body.dw_multiply_chunk(m, wy, v, count, &g, yp, ys);
    }
    body.dw_output(dweight, m, &g);
    if (dx) wg_forward_padded(dx, dyp, weight, NULL, batch, &gt, chunk_t, 1, dyp + dyp_floats);
    return 1;
}

int loom_winograd_weight_gradient(float *dweight, const float *dy, const float *x, size_t batch,
                                  const struct loom_conv_shape *shape) {
    return wg_backward(NULL, dweight, dy, x, NULL, batch, shape);
}

int loom_winograd_backward(float *dx, float *dweight, const float *dy, const float *x, const float *weight,
                           size_t batch, const struct loom_conv_shape *shape) {
    return wg_backward(dx, dweight, dy, x, weight, batch, shape);
}
