// Batch norm, ReLU and the residual sum fused for ResNet blocks (NormBodies.h): each kernel
// returns the bits of the unfused CKernels.h kernels it stands for, run one after the other,
// on every path, in one pass over memory instead of two.
#ifndef LOOM_CKERNELS_NORM_H
#define LOOM_CKERNELS_NORM_H

#include <stddef.h>
#include <stdint.h>

/// q = relu(p·scale + shift): loom_affine then loom_relu (q may be p).
void loom_affine_relu(float *q, const float *p, float scale, float shift, size_t n);
/// *sum = Σ g, *dot = Σ g·(x − shift), g = dy where y > 0, else 0 (loom_relu_backward's g).
void loom_relu_gated_sum_and_centred_dot(const float *dy, const float *y, const float *x, float shift, size_t n,
                                         float *sum, float *dot);
/// d = g·scale + (x − centre)·slope + shift, g as above.
void loom_relu_gated_scaled_plus_centred_affine(float *d, const float *dy, const float *y, float scale, const float *x,
                                                float centre, float slope, float shift, size_t n);
/// y = relu(a + b) (y may be a or b).
void loom_add_relu(float *y, const float *a, const float *b, size_t n);
/// d1 = d2 = dy where y > 0, else 0 (d1 may be dy).
void loom_relu_backward_twice(float *d1, float *d2, const float *dy, const float *y, size_t n);
/// One (H, W) plane x of batch norm → 2×2 max pool (stride 2) → ReLU, forward, with
/// z = x·scale + shift: y, argmax (index in the plane of the window's first maximum of z in
/// scan order) and selected (x there), each (H/2, W/2) (odd H or W drop the last row or
/// column); x may be read up to `end` (the end of the tensor x lies in).
void loom_pool_relu_plane(float *y, int32_t *argmax, float *selected, const float *x, const float *end, float scale,
                          float shift, size_t height, size_t width);
/// out = a + b (out may be a or b).
void loom_add_into(float *out, const float *a, const float *b, size_t n);

#endif
