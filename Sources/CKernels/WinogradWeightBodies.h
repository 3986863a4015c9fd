// The bodies of the Winograd F(2×2, 3×3) weight gradient (Winograd.c), included once per
// instruction path after WinogradBodies.h, with WG_DW_PB1 and WG_DW_PB2 the input channels of
// a register block of one and of two 16-channel units (each divides 16). Blocks choose only
// which sums are computed together, never the order of a sum's terms: the transforms are
// element-wise IEEE additions, negations and exact halvings, and each M[ξ, o, c] one chain of
// fused multiply-adds over the tiles in order.

/// Ŷ (16, tiles of the chunk, yp) of tiles first .. first + count − 1 (global indices) from
/// the padded channel-last copy of dy (`gy`: its channels are the layer's output channels):
/// per 16 channels, Ŷ = A t Aᵀ of the tile's 2×2 block t, rows then columns, each
/// (t0, t0 + t1, t0 − t1, −t1). Outputs past the plane read the copy's zeros.
static WG_NO_MEMCPY void WG(dy_transform)(float *wy, const float *dyp, const struct wg_geometry *gy, long first,
                                          long count, long yp, long ys) {
    for (long t = 0; t < count; t++) {
        long n = (first + t) / gy->tiles, r = (first + t) % gy->tiles;
        const float *block = dyp + (n * gy->hp * gy->wp + (2 * (r / gy->tx) + 1) * gy->wp + 2 * (r % gy->tx) + 1) * gy->cp;
        float *dst = wy + t * yp;
        for (long k = 0; k < gy->cunits; k++) {
            v16f d[2][2], e[4][2];
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 2; j++) d[i][j] = WG(load)(block + (i * gy->wp + j) * gy->cp + 16 * k);
            }
            for (int j = 0; j < 2; j++) {
                e[0][j] = d[0][j];
                e[1][j] = d[0][j] + d[1][j];
                e[2][j] = d[0][j] - d[1][j];
                e[3][j] = -d[1][j];
            }
            for (int i = 0; i < 4; i++) {
                float *row = dst + 4 * i * ys + 16 * k;
                WG(store)(row, e[i][0]);
                WG(store)(row + ys, e[i][0] + e[i][1]);
                WG(store)(row + 2 * ys, e[i][0] - e[i][1]);
                WG(store)(row + 3 * ys, -e[i][1]);
            }
        }
    }
}

/// M[ξ] (cp, ocp) += over the chunk's tiles in order, for OCV units of 16 output channels from
/// u0 and PB input channels from c0: acc = M, then + Ŷ[ξ, t, o]·V[ξ, t, c] for each tile t,
/// one fused multiply-add each; acc back to M. Channels past C (V's zero lanes) and past OC
/// (Ŷ's zero lanes) are computed like the others and never read.
#define WG_DW_BLOCK(OCV, PB)                                                                               \
    static WG_NO_MEMCPY void WG(dw_block_##OCV)(float *m, const float *wy, const float *v, long count, long u0, \
                                                long c0, const struct wg_geometry *g, long yp) {               \
        long ocp = 16 * g->units;                                                                          \
        v16f acc[OCV][PB];                                                                                 \
        WG_UNROLL for (int u = 0; u < OCV; u++) {                                                          \
            WG_UNROLL for (int j = 0; j < PB; j++) acc[u][j] = WG(load)(m + (c0 + j) * ocp + 16 * (u0 + u)); \
        }                                                                                                  \
        for (long t = 0; t < count; t++) {                                                                 \
            v16f wv[OCV];                                                                                  \
            WG_UNROLL for (int u = 0; u < OCV; u++) wv[u] = WG(load)(wy + t * yp + 16 * (u0 + u));         \
            WG_UNROLL for (int j = 0; j < PB; j++) {                                                       \
                v16f xv = WG(splat)(v[t * g->vp + c0 + j]);                                                \
                WG_UNROLL for (int u = 0; u < OCV; u++) acc[u][j] = WG(fma)(wv[u], xv, acc[u][j]);         \
            }                                                                                              \
        }                                                                                                  \
        WG_UNROLL for (int u = 0; u < OCV; u++) {                                                          \
            WG_UNROLL for (int j = 0; j < PB; j++) WG(store)(m + (c0 + j) * ocp + 16 * (u0 + u), acc[u][j]); \
        }                                                                                                  \
    }

WG_DW_BLOCK(1, WG_DW_PB1)
WG_DW_BLOCK(2, WG_DW_PB2)

/// The products of a chunk of `count` tiles whose V (16, count, vp) and Ŷ (16, count, yp) it
/// holds, into M (16, cp, ocp): ξ by ξ, every unit pair (then a last single unit) over every
/// block of input channels.
static void WG(dw_multiply_chunk)(float *m, const float *wy, const float *v, long count, const struct wg_geometry *g,
                                  long yp, long ys) {
    long ocp = 16 * g->units;
    for (int xi = 0; xi < 16; xi++) {
        float *mx = m + xi * g->cp * ocp;
        const float *wx = wy + xi * ys, *vx = v + xi * g->vs;
        long u0 = 0;
        for (; u0 + 2 <= g->units; u0 += 2) {
            for (long c0 = 0; c0 < g->cp; c0 += WG_DW_PB2) WG(dw_block_2)(mx, wx, vx, count, u0, c0, g, yp);
        }
        for (; u0 < g->units; u0++) {
            for (long c0 = 0; c0 < g->cp; c0 += WG_DW_PB1) WG(dw_block_1)(mx, wx, vx, count, u0, c0, g, yp);
        }
    }
}

/// dweight (OC, C, 3, 3) += Gᵀ M G for 16 output channels at a time: rows, then columns, each
/// (m0 + (m1 + m2)·½, (m1 − m2)·½, (m1 + m2)·½ + m3); one addition into dweight per weight.
static WG_NO_MEMCPY void WG(dw_output)(float *dweight, const float *m, const struct wg_geometry *g) {
    long ocp = 16 * g->units;
    v16f half = WG(splat)(0.5f);
    for (long c = 0; c < g->c; c++) {
        for (long u = 0; u < g->units; u++) {
            v16f mm[16], r[3][4], out[3][3];
            for (int xi = 0; xi < 16; xi++) mm[xi] = WG(load)(m + (xi * g->cp + c) * ocp + 16 * u);
            for (int j = 0; j < 4; j++) {
                v16f s = (mm[4 + j] + mm[8 + j]) * half;
                r[0][j] = mm[j] + s;
                r[1][j] = (mm[4 + j] - mm[8 + j]) * half;
                r[2][j] = s + mm[12 + j];
            }
            for (int i = 0; i < 3; i++) {
                v16f s = (r[i][1] + r[i][2]) * half;
                out[i][0] = r[i][0] + s;
                out[i][1] = (r[i][1] - r[i][2]) * half;
                out[i][2] = s + r[i][3];
            }
            long lanes = g->oc - 16 * u < 16 ? g->oc - 16 * u : 16;
            for (long l = 0; l < lanes; l++) {
                float *dst = dweight + ((16 * u + l) * g->c + c) * 9;
                for (int i = 0; i < 3; i++) {
                    for (int k = 0; k < 3; k++) dst[3 * i + k] += out[i][k][l];
                }
            }
        }
    }
}
