// Winograd F(2×2, 3×3) convolution for 3×3, stride-1, padding-1 layers (groups = 1): each 2×2
// block of outputs (a tile) from its 4×4 input patch with 16 multiplications per input and
// output channel instead of 36. Same rules as CKernelsConv.h: three instruction paths, 16-lane
// vectors, fixed orders, every product a fused multiply-add (fmaf on SSE2), so every path, any
// split of the batch and any number of workers give the same bits (the weight gradient: every
// path, for the same batch of a call). They are not the direct
// kernels' bits: Winograd computes other products (docs/KERNELS.md gives its error bound).
#ifndef LOOM_CKERNELS_WINOGRAD_H
#define LOOM_CKERNELS_WINOGRAD_H

#include <stddef.h>

#include "CKernelsConv.h"

/// Whether the Winograd functions take `shape`: kernel 3, stride 1, padding 1.
int loom_winograd_takes(const struct loom_conv_shape *shape);

/// y (N, OC, H, W) = conv(x (N, C, H, W), weight (OC, C, 3, 3)) (+ bias), for each tile
/// (2×2 outputs at (2ty, 2tx), its input patch d (4×4) from (2ty − 1, 2tx − 1), reading 0
/// outside the image):
///   V = Bᵀ d B per input channel c, U = G g G^T per weight g = w[o, c] (fixed sequences of
///   IEEE additions and exact halvings, written out in Winograd.c),
///   M[ξ] = 0, then + U[ξ, o, c]·V[ξ, c] for c in order, one fused multiply-add each (ξ the 16
///   positions of the 4×4 transform),
///   y = Aᵀ M A (fixed additions), then + bias[o] when there is one.
/// Returns 0 when its scratch memory cannot be allocated.
int loom_winograd_forward(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                          const struct loom_conv_shape *shape);

/// dx (N, C, H, W) of the 3×3 stride-1 padding-1 convolution `shape`, from dy (N, OC, H, W):
/// the forward pass above of dy with the weights flipped in (ky, kx) and transposed in (o, c),
/// read from `weight` (OC, C, 3, 3) by the weight transform (no copy), no bias.
int loom_winograd_input_gradient(float *dx, const float *dy, const float *weight, size_t batch,
                                 const struct loom_conv_shape *shape);

/// dweight (OC, C, 3, 3) += the weight gradient of the 3×3 stride-1 padding-1 convolution
/// `shape` from x (N, C, H, W) and dy (N, OC, H, W), by F(2×2, 3×3) taken backwards: for each
/// tile (as above, numbered (n, ty, tx) over the whole batch; dy past the plane reads 0)
///   V = Bᵀ d B of its input patch per input channel (as above),
///   Ŷ = A t Aᵀ of its 2×2 block t of dy per output channel, rows then columns, each
///   (t0, t0 + t1, t0 − t1, −t1),
///   M[ξ, o, c] = 0, then + Ŷ[ξ, o]·V[ξ, c] for the tiles in order, one fused multiply-add
///   each (one chain over the whole batch: the call's batch is the unit of its bits),
/// then dweight[o, c] += Gᵀ M[·, o, c] G, rows then columns, each
/// (m0 + (m1 + m2)·½, (m1 − m2)·½, (m1 + m2)·½ + m3). Returns 0 when its scratch memory cannot
/// be allocated.
int loom_winograd_weight_gradient(float *dweight, const float *dy, const float *x, size_t batch,
                                  const struct loom_conv_shape *shape);

/// loom_winograd_weight_gradient, then loom_winograd_input_gradient into dx (skipped when
/// dx is NULL), sharing one padded copy of dy: the same bits as the two calls.
int loom_winograd_backward(float *dx, float *dweight, const float *dy, const float *x, const float *weight,
                           size_t batch, const struct loom_conv_shape *shape);

#endif
