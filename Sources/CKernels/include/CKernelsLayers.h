// Loom's C kernels of the EfficientNet-class layers (SiLU, squeeze-and-excitation, depthwise
// convolution) and the memory-bandwidth probe of `loom bench`. Same rules as CKernels.h: three
// instruction paths chosen at run time (loom_kernels_set_path), 16-lane vectors whatever the
// path, fixed orders, no fused multiply-add: every path returns the same bits.
#ifndef LOOM_CKERNELS_LAYERS_H
#define LOOM_CKERNELS_LAYERS_H

#include <stddef.h>

// MARK: - Exponential and logistic

/// e^a for a ≤ 0 (a NaN gives NaN; a < −87 gives 0): a = k·ln 2 + r with k = round(a/ln 2)
/// and |r| ≤ ln 2 / 2 (ln 2 split in two so that k·ln2_hi is exact), e^r by its Taylor
/// polynomial of degree 7 in Horner's order, times 2^k built in the exponent bits. Only
/// IEEE additions, multiplications and exact conversions, so every path and every CPU
/// gives the same bits. Error at most 1.22 units in the last place (measured over every
/// float in [−87, 0] against double exp; KernelLayerTests checks every 997th).
float loom_exp_nonpositive(float a);

/// σ(x) = 1 / (1 + e^−x), from t = e^−|x| above: 1/(1 + t) for x ≥ 0, t/(1 + t) otherwise
/// (error at most 2.5 units in the last place for x ≥ −87; 0 below).
float loom_logistic(float x);

/// y = x·σ(x) over n floats (y may not alias x). A NaN comes out as the quiet NaN 0x7fc00000.
void loom_silu(float *y, const float *x, size_t n);

/// dx = dy·(σ(x)·(1 + x·(1 − σ(x)))), SiLU's derivative (dx may alias dy; NaN as in loom_silu).
void loom_silu_backward(float *dx, const float *dy, const float *x, size_t n);

// MARK: - Plane loops of squeeze-and-excitation

/// Σ a·b over n floats (16 lane sums, added in CKernels' fixed order, then the tail).
float loom_dot(const float *a, const float *b, size_t n);

/// q = p·scale (q may be p).
void loom_scale(float *q, const float *p, float scale, size_t n);

// MARK: - Depthwise convolution

/// One depthwise convolution: x (N, C, H, W) → y (N, C, OH, OW), one k×k filter per channel
/// (weight (C, 1, k, k)), the same stride and zero padding on both axes.
struct loom_depthwise_shape {
    long channels, height, width, kernel, stride, padding;
};

/// y = bias[c] (or 0), then + w[c, ky, kx]·x[n, c, oy·s − p + ky, ox·s − p + kx] for each tap
/// in (ky, kx) order (padding reads 0). Returns 0 when its scratch memory cannot be allocated.
int loom_depthwise_forward(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                           const struct loom_depthwise_shape *shape);

/// Backward of loom_depthwise_forward. dx (overwritten; may be NULL): each input's sum of
/// w·dy over the taps that read it, in (ky, kx) order. dweight (accumulated): per tap and
/// sample the sum over the plane of dy times the input the tap read, added in sample order;
/// the order within a plane is the kernel's (below). dbias (accumulated; may be NULL): per
/// sample the sum of the dy plane. Returns 0 when its scratch memory cannot be allocated.
int loom_depthwise_backward(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                            const float *weight, size_t batch, const struct loom_depthwise_shape *shape);

/// The two kernels loom_depthwise_forward and _backward choose between by shape alone (the
/// lane kernel when the polyphase grid would hold 5/4 or more lanes per output, on planes of
/// at most 64 × 64; docs/KERNELS.md), callable directly by the tests. Both
/// give the same bits for y and, for finite values, dx. Their weight gradients differ in the
/// order of summation within a plane: the polyphase kernel's is a 16-lane dot product (even
/// vectors in one partial sum, odd in another), the lane kernel's a sum over output rows, in
/// row order from 0, of each row's sum over its columns, in column order from 0.
int loom_depthwise_lanes_forward(float *y, const float *x, const float *weight, const float *bias, size_t batch,
                                 const struct loom_depthwise_shape *shape);
int loom_depthwise_lanes_backward(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                                  const float *weight, size_t batch, const struct loom_depthwise_shape *shape);
int loom_depthwise_polyphase_forward(float *y, const float *x, const float *weight, const float *bias,
                                     size_t batch, const struct loom_depthwise_shape *shape);
int loom_depthwise_polyphase_backward(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                                      const float *weight, size_t batch, const struct loom_depthwise_shape *shape);

// MARK: - Memory bandwidth probe

/// a = b (STREAM's copy).
void loom_stream_copy(float *a, const float *b, size_t n);
/// a = b + scalar·c (STREAM's triad).
void loom_stream_triad(float *a, const float *b, const float *c, float scalar, size_t n);

#endif
