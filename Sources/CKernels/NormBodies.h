// The batch-norm, ReLU and residual kernels fused for ResNet blocks (CKernelsNorm.h),
// included by Kernels.c after KernelBodies.h once per instruction path, with its helpers
// (load, store, splat, hsum). Each gives the bits of the unfused kernels it replaces, run one
// after the other: the same IEEE operations in the same order, lane for lane, and the ReLU
// mask of loom_relu / loom_relu_backward (a value ≤ 0 gives +0; a NaN passes).

#define K(name) LOOM_CAT(name, LOOM_SUFFIX)

/// q = relu(p·scale + shift): loom_affine, then loom_relu.
static void K(affine_relu)(float *q, const float *p, float scale, float shift, size_t n) {
    v16f a = K(splat)(scale), b = K(splat)(shift), zero = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f v = K(load)(p + i) * a + b;
        v16i keep = ~(v <= zero);
        K(store)(q + i, (v16f)((v16i)v & keep));
    }
    for (; i < n; i++) {
        float v = p[i] * scale + shift;
        q[i] = v <= 0 ? 0 : v;
    }
}

/// (Σ g, Σ g·(x − shift)) with g = dy where y > 0, else 0: loom_relu_backward, then
/// loom_sum_and_centred_dot on its result.
static void K(relu_gated_sum_and_centred_dot)(const float *dy, const float *y, const float *x, float shift, size_t n,
                                              float *sum, float *dot) {
    v16f a = {0}, b = {0}, c = K(splat)(shift), zero = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16i keep = ~(K(load)(y + i) <= zero);
        v16f g = (v16f)((v16i)K(load)(dy + i) & keep);
        a += g;
        b += g * (K(load)(x + i) - c);
    }
    float s = K(hsum)(a), t = K(hsum)(b);
    for (; i < n; i++) {
        float g = y[i] <= 0 ? 0 : dy[i];
        s += g;
        t += g * (x[i] - shift);
    }
    *sum = s;
    *dot = t;
}

/// d = g·scale + (x − centre)·slope + shift with g = dy where y > 0, else 0:
/// loom_relu_backward, then loom_scaled_plus_centred_affine.
static void K(relu_gated_scaled_plus_centred_affine)(float *d, const float *dy, const float *y, float scale,
                                                     const float *x, float centre, float slope, float shift,
                                                     size_t n) {
    v16f va = K(splat)(scale), vc = K(splat)(centre), vs = K(splat)(slope), vh = K(splat)(shift), zero = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16i keep = ~(K(load)(y + i) <= zero);
        v16f g = (v16f)((v16i)K(load)(dy + i) & keep);
        K(store)(d + i, g * va + (K(load)(x + i) - vc) * vs + vh);
    }
    for (; i < n; i++) {
        float g = y[i] <= 0 ? 0 : dy[i];
        d[i] = g * scale + (x[i] - centre) * slope + shift;
    }
}

/// y = relu(a + b): an elementwise sum, then loom_relu.
static void K(add_relu)(float *y, const float *a, const float *b, size_t n) {
    v16f zero = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f v = K(load)(a + i) + K(load)(b + i);
        v16i keep = ~(v <= zero);
        K(store)(y + i, (v16f)((v16i)v & keep));
    }
    for (; i < n; i++) {
        float v = a[i] + b[i];
        y[i] = v <= 0 ? 0 : v;
    }
}

/// g = dy where y > 0, else 0, written to both d1 and d2: loom_relu_backward, then a copy.
static void K(relu_backward_twice)(float *d1, float *d2, const float *dy, const float *y, size_t n) {
    v16f zero = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16i keep = ~(K(load)(y + i) <= zero);
        v16f g = (v16f)((v16i)K(load)(dy + i) & keep);
        K(store)(d1 + i, g);
        K(store)(d2 + i, g);
    }
    for (; i < n; i++) {
        float g = y[i] <= 0 ? 0 : dy[i];
        d1[i] = g;
        d2[i] = g;
    }
}

/// out = a + b (out may be a or b).
static void K(add_into)(float *out, const float *a, const float *b, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) K(store)(out + i, K(load)(a + i) + K(load)(b + i));
    for (; i < n; i++) out[i] = a[i] + b[i];
}

#undef K
