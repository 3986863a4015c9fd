// Loom's direct 2-D convolution (groups = 1): no im2col matrix and no BLAS. Three instruction
// paths chosen at run time (loom_kernels_set_path), 16-lane vectors whatever the path, fixed
// orders. Unlike CKernels.h's loops, every term is one fused multiply-add (IEEE
// fusedMultiplyAdd, rounded once): an instruction on AVX2 and AVX-512, the C library's
// correctly rounded fmaf on SSE2. Every path returns the same bits, and so does any split of
// the batch or any number of workers.
#ifndef LOOM_CKERNELS_CONV_H
#define LOOM_CKERNELS_CONV_H

#include <stddef.h>

/// x (N, C, H, W) → y (N, OC, OH, OW) with weight (OC, C, k, k), the same stride and zero
/// padding on both axes, OH = (H + 2p − k) / s + 1 (and OW likewise).
struct loom_conv_shape {
    long in_channels, out_channels, height, width, kernel, stride, padding;
};

/// y[n, o, oy, ox] = bias[o] (or 0), then + w[o, c, ky, kx]·x[n, c, oy·s − p + ky, ox·s − p + kx]
/// for c in order and, within c, the taps in (ky, kx) order (padding reads 0), one fused
/// multiply-add per term. Returns 0 when its scratch memory cannot be
/// allocated.
int loom_conv_forward(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                      const struct loom_conv_shape *shape);

/// dweight (OC, C, k, k) += Σ_n Σ_(oy, ox) dy[n, o, oy, ox]·x[n, c, oy·s − p + ky, ox·s − p + kx]:
/// per sample and weight one 16-lane dot product of fused multiply-adds over the output grid
/// (OH rows of ⌈(W + 2p) / s⌉, lane (oy·wq + ox) mod 16; lanes added in CKernels' order), added
/// to dweight in sample order. Returns 0 when its scratch memory
/// cannot be allocated.
int loom_conv_weight_gradient(float *dweight, const float *dy, const float *x, size_t batch,
                              const struct loom_conv_shape *shape);

/// dx (N, C, H, W) of the stride-1 convolution `shape` (p ≤ k − 1) from dy (N, OC, OH, OW):
/// the forward pass above of dy with the weights flipped in (ky, kx) and transposed in (o, c),
/// padding k − 1 − p, no bias; read from `weight` (OC, C, k, k) as they are packed, no copy.
int loom_conv_input_gradient(float *dx, const float *dy, const float *weight, size_t batch,
                             const struct loom_conv_shape *shape);

// The channel-vectorised kernel (ChannelConvKernels.c): vectors over 16 output channels, for
// small planes. Its forward pass and input gradient give the same bits as the two above.

/// As loom_conv_forward, the same terms in the same order, hence the same bits.
int loom_conv_forward_channels(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                               const struct loom_conv_shape *shape);

/// As loom_conv_input_gradient, the same bits.
int loom_conv_input_gradient_channels(float *dx, const float *dy, const float *weight, size_t batch,
                                      const struct loom_conv_shape *shape);

/// dx (N, C, H, W) of the convolution `shape`, any stride, from dy (N, OC, OH, OW):
/// dx[n, c, iy, ix] = 0, then + w[o, c, ky, kx]·dy[n, o, oy, ox] for o in order and, within o,
/// the taps (ky, kx) that reach (iy, ix) (ky ≡ iy + p mod s, oy = (iy + p − ky) / s, and
/// likewise in x) in order, dy outside the output reading 0; one fused multiply-add per term.
/// (For stride 1, loom_conv_input_gradient's order differs: its taps run flipped.)
int loom_conv_input_gradient_strided(float *dx, const float *dy, const float *weight, size_t batch,
                                     const struct loom_conv_shape *shape);

/// dweight (OC, C, k, k) += Σ_n Σ_(oy, ox) dy[n, o, oy, ox]·x[n, c, oy·s − p + ky, ox·s − p + kx]
/// as one chain of fused multiply-adds per weight, starting from its value: samples in
/// order, within a sample the output pixels (oy, ox) in row order, padding terms dy·0
/// included. Returns 0 when its scratch memory cannot be allocated.
int loom_conv_weight_gradient_channels(float *dweight, const float *dy, const float *x, size_t batch,
                                       const struct loom_conv_shape *shape);

#endif
