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

/// One plane of the fused batch norm → 2×2 max pool (stride 2) → ReLU forward
/// (BatchNormPoolReLU.swift): z = x·scale + shift (a multiply, then an add), per window the
/// first maximum of z in scan order (strict >: top left, top right, bottom left, bottom
/// right), y = that maximum, or +0 when it is ≤ 0; argmax its index iy·W + ix in the plane,
/// selected = x there. 16 windows of a row at a time; a row of 16 or more windows redoes its
/// last group overlapping the one before (the same values rewritten), a shorter one computes
/// 16 and stores them whole (the rows after rewrite the lanes past it) but in the plane's last
/// rows, where it stores its own. x is read up to `end` (16 floats at a time past a row's
/// windows while that stays below `end`, else copied).
static void K(pool_relu_plane)(float *y, int32_t *argmax, float *selected, const float *x, const float *end,
                               float scale, float shift, size_t height, size_t width) {
    long w = (long)width, oh = (long)height / 2, ow = w / 2;
    v16f a = K(splat)(scale), b = K(splat)(shift), zero = {0};
    v16i lanes2, one, below, diagonal;
    for (int l = 0; l < 16; l++) lanes2[l] = 2 * l, one[l] = 1, below[l] = (int32_t)w, diagonal[l] = (int32_t)w + 1;
    for (long r = 0; r < oh; r++) {
        long row0 = 2 * r * w;
        const float *top = x + row0, *bottom = top + w;
        long out = r * ow;
        for (long col = 0; col < ow;) {
            long g = ow - col >= 16 || ow < 16 ? col : ow - 16;
            long cnt = ow - g < 16 ? ow - g : 16;
            v16f t0, t1, u0, u1;
            if (bottom + 2 * g + 32 <= end) {
                t0 = K(load)(top + 2 * g), t1 = K(load)(top + 2 * g + 16);
                u0 = K(load)(bottom + 2 * g), u1 = K(load)(bottom + 2 * g + 16);
            } else {
                float tt[32] = {0}, uu[32] = {0};
                for (long i = 0; i < 2 * cnt; i++) tt[i] = top[2 * g + i], uu[i] = bottom[2 * g + i];
                t0 = K(load)(tt), t1 = K(load)(tt + 16), u0 = K(load)(uu), u1 = K(load)(uu + 16);
            }
            v16f te = __builtin_shufflevector(t0, t1, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            v16f to = __builtin_shufflevector(t0, t1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            v16f ue = __builtin_shufflevector(u0, u1, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            v16f uo = __builtin_shufflevector(u0, u1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            v16i base = lanes2;
            base += (int32_t)(row0 + 2 * g);
            v16f best = te * a + b, raw = te;
            v16i at = base;
            v16f z = to * a + b;
            v16i mask = z > best;
            best = (v16f)((mask & (v16i)z) | (~mask & (v16i)best));
            at = (mask & (base + one)) | (~mask & at);
            raw = (v16f)((mask & (v16i)to) | (~mask & (v16i)raw));
            z = ue * a + b;
            mask = z > best;
            best = (v16f)((mask & (v16i)z) | (~mask & (v16i)best));
            at = (mask & (base + below)) | (~mask & at);
            raw = (v16f)((mask & (v16i)ue) | (~mask & (v16i)raw));
            z = uo * a + b;
            mask = z > best;
            best = (v16f)((mask & (v16i)z) | (~mask & (v16i)best));
            at = (mask & (base + diagonal)) | (~mask & at);
            raw = (v16f)((mask & (v16i)uo) | (~mask & (v16i)raw));
            best = (v16f)((v16i)best & ~(best <= zero));
            // A short row's 16 lanes are stored whole while that stays inside the plane: the
            // lanes past the row land on the next rows, which are written after it.
            if (cnt == 16 || out + g + 16 <= oh * ow) {
                K(store)(y + out + g, best);
                __builtin_memcpy(argmax + out + g, &at, sizeof at);
                K(store)(selected + out + g, raw);
            } else {
                for (long i = 0; i < cnt; i++) {
                    y[out + g + i] = best[i];
                    argmax[out + g + i] = at[i];
                    selected[out + g + i] = raw[i];
                }
            }
            col = g + 16;
        }
    }
}

#undef K
