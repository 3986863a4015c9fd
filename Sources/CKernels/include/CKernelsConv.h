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

#endif
