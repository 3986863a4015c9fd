// The bodies of Loom's memory-bound kernels, included once per instruction path by
// Kernels.c with LOOM_SUFFIX naming the path and a `target` attribute on every function.
// Shapes are flat: n floats, no overlap between outputs and inputs unless said.
//
// One vector is 16 floats whatever the path; the compiler maps it onto the registers the
// path has. Each function performs the same IEEE operations in the same order on every
// path (16 partial sums, added at the end in `hsum`'s order; the tail element by element),
// so every path returns the same bits.

#define LOOM_CAT2(a, b) a##_##b
#define LOOM_CAT(a, b) LOOM_CAT2(a, b)
#define K(name) LOOM_CAT(name, LOOM_SUFFIX)

static inline v16f K(load)(const float *p) { v16f v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void K(store)(float *p, v16f v) { __builtin_memcpy(p, &v, sizeof v); }

/// x in all 16 lanes, bit for bit: a sum 0 + x would turn −0 into +0, which the scalar
/// tail keeps, so the vector lanes and the tail would round a zero differently.
static inline v16f K(splat)(float x) {
    v16f v;
    for (int i = 0; i < 16; i++) v[i] = x;
    return v;
}

/// The sum of v's 16 lanes: lanes i and i+8, then i and i+4, then i and i+2, then 0 and 1.
static inline float K(hsum)(v16f v) {
    float a[16], b[8], c[4];
    __builtin_memcpy(a, &v, sizeof a);
    for (int i = 0; i < 8; i++) b[i] = a[i] + a[i + 8];
    for (int i = 0; i < 4; i++) c[i] = b[i] + b[i + 4];
    return (c[0] + c[2]) + (c[1] + c[3]);
}

/// Σ p[0..<n].
static float K(sum)(const float *p, size_t n) {
    v16f a = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) a += K(load)(p + i);
    float s = K(hsum)(a);
    for (; i < n; i++) s += p[i];
    return s;
}

/// (Σ d, Σ d·(x − shift)).
static void K(sum_and_centred_dot)(const float *d, const float *x, float shift, size_t n, float *sum, float *dot) {
    v16f a = {0}, b = {0}, c = K(splat)(shift);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f g = K(load)(d + i);
        a += g;
        b += g * (K(load)(x + i) - c);
    }
    float s = K(hsum)(a), t = K(hsum)(b);
    for (; i < n; i++) {
        s += d[i];
        t += d[i] * (x[i] - shift);
    }
    *sum = s;
    *dot = t;
}

/// Σ (p − shift)².
static float K(centred_squares)(const float *p, float shift, size_t n) {
    v16f a = {0}, c = K(splat)(shift);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f u = K(load)(p + i) - c;
        a += u * u;
    }
    float s = K(hsum)(a);
    for (; i < n; i++) s += (p[i] - shift) * (p[i] - shift);
    return s;
}

/// (Σ (p − p[0]), Σ (p − p[0])²): a plane's moments around its first value.
static void K(shifted_moments)(const float *p, size_t n, float *sum, float *squares) {
    float shift = n > 0 ? p[0] : 0;
    v16f a = {0}, b = {0}, c = K(splat)(shift);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f u = K(load)(p + i) - c;
        a += u;
        b += u * u;
    }
    float s1 = K(hsum)(a), s2 = K(hsum)(b);
    for (; i < n; i++) {
        float u = p[i] - shift;
        s1 += u;
        s2 += u * u;
    }
    *sum = s1;
    *squares = s2;
}

/// q = p·scale + shift (q may be p).
static void K(affine)(float *q, const float *p, float scale, float shift, size_t n) {
    v16f a = K(splat)(scale), b = K(splat)(shift);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) K(store)(q + i, K(load)(p + i) * a + b);
    for (; i < n; i++) q[i] = p[i] * scale + shift;
}

/// (Σ gate, Σ gate·(p − shift)) with gate = g where v > 0, else 0: the batch-norm
/// backward's two reductions seen through a ReLU (v is the rectified output).
static void K(gated_sum_and_centred_dot)(const float *g, const float *v, const float *p, float shift, size_t n,
                                          float *sum, float *dot) {
    v16f a = {0}, b = {0}, c = K(splat)(shift), zero = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16i open = K(load)(v + i) > zero;
        v16f gate = (v16f)((v16i)K(load)(g + i) & open);
        a += gate;
        b += gate * (K(load)(p + i) - c);
    }
    float s = K(hsum)(a), t = K(hsum)(b);
    for (; i < n; i++) {
        float gate = v[i] > 0 ? g[i] : 0;
        s += gate;
        t += gate * (p[i] - shift);
    }
    *sum = s;
    *dot = t;
}

/// d = (p − centre)·slope + shift.
static void K(centred_affine)(float *d, const float *p, float centre, float slope, float shift, size_t n) {
    v16f vc = K(splat)(centre), vs = K(splat)(slope), vh = K(splat)(shift);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) K(store)(d + i, (K(load)(p + i) - vc) * vs + vh);
    for (; i < n; i++) d[i] = (p[i] - centre) * slope + shift;
}

/// d = g·scale + (p − centre)·slope + shift: batch norm's input gradient.
static void K(scaled_plus_centred_affine)(float *d, const float *g, float scale, const float *p, float centre,
                                          float slope, float shift, size_t n) {
    v16f va = K(splat)(scale), vc = K(splat)(centre), vs = K(splat)(slope), vh = K(splat)(shift);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) K(store)(d + i, K(load)(g + i) * va + (K(load)(p + i) - vc) * vs + vh);
    for (; i < n; i++) d[i] = g[i] * scale + (p[i] - centre) * slope + shift;
}

/// q += p.
static void K(add)(float *q, const float *p, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) K(store)(q + i, K(load)(q + i) + K(load)(p + i));
    for (; i < n; i++) q[i] += p[i];
}

/// 1 when every p[i] is finite: x · 0 is ±0 for a finite x and NaN for NaN or ±Inf, so
/// the sum of every x · 0 is 0 exactly when all are finite (two operations per value).
static int K(all_finite)(const float *p, size_t n) {
    v16f z = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) z += K(load)(p + i) * 0.0f;
    float t = K(hsum)(z);
    for (; i < n; i++) t += p[i] * 0.0f;
    return t == 0;
}

/// out = a + b, left operand first (out may be a or b); 1 when every sum is finite.
static int K(sum_into)(const float *a, const float *b, float *out, size_t n) {
    v16f z = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f s = K(load)(a + i) + K(load)(b + i);
        K(store)(out + i, s);
        z += s * 0.0f;
    }
    float t = K(hsum)(z);
    for (; i < n; i++) {
        float s = a[i] + b[i];
        out[i] = s;
        t += s * 0.0f;
    }
    return t == 0;
}

/// y = max(x, 0), keeping NaN (x ≤ 0 is false for NaN); y may be x.
static void K(relu)(float *y, const float *x, size_t n) {
    v16f zero = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f v = K(load)(x + i);
        v16i keep = ~(v <= zero);
        K(store)(y + i, (v16f)((v16i)v & keep));
    }
    for (; i < n; i++) y[i] = x[i] <= 0 ? 0 : x[i];
}

/// dx = dy where y > 0, else 0 (y ≤ 0 gives 0; dx may be dy).
static void K(relu_backward)(float *dx, const float *dy, const float *y, size_t n) {
    v16f zero = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16i keep = ~(K(load)(y + i) <= zero);
        K(store)(dx + i, (v16f)((v16i)K(load)(dy + i) & keep));
    }
    for (; i < n; i++) dx[i] = y[i] <= 0 ? 0 : dy[i];
}

/// Momentum SGD after its first step, without Nesterov (PyTorch's order):
/// d = g + wd·w, b = mu·b + keep·d, w = w − lr·b.
static void K(sgd_momentum)(float *w, const float *g, float *b, size_t n, float lr, float wd, float mu, float keep) {
    v16f vlr = K(splat)(lr), vwd = K(splat)(wd), vmu = K(splat)(mu), vkeep = K(splat)(keep);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f wv = K(load)(w + i);
        v16f d = K(load)(g + i) + vwd * wv;
        v16f nb = vmu * K(load)(b + i) + vkeep * d;
        K(store)(b + i, nb);
        K(store)(w + i, wv - vlr * nb);
    }
    for (; i < n; i++) {
        float d = g[i] + wd * w[i];
        b[i] = mu * b[i] + keep * d;
        w[i] -= lr * b[i];
    }
}

/// Adam and AdamW, element by element in PyTorch's order (AdamParameters in CKernels.h).
static void K(adam)(float *w, const float *g, float *m, float *v, size_t n, const struct loom_adam_parameters *a) {
    v16f decay = K(splat)(a->decay), wd = K(splat)(a->weight_decay), b1c = K(splat)(a->one_minus_beta1);
    v16f b2 = K(splat)(a->beta2), b2c = K(splat)(a->one_minus_beta2), b2sqrt = K(splat)(a->bias2_sqrt);
    v16f eps = K(splat)(a->eps), step = K(splat)(a->step_size);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f grad = K(load)(g + i), wv = K(load)(w + i), mv = K(load)(m + i), vv = K(load)(v + i);
        if (a->decoupled) wv *= decay;
        if (a->l2) grad += wd * wv;
        mv += b1c * (grad - mv);
        vv = b2 * vv + b2c * grad * grad;
        v16f denom = __builtin_elementwise_sqrt(vv) / b2sqrt + eps;
        wv -= step * (mv / denom);
        K(store)(m + i, mv);
        K(store)(v + i, vv);
        K(store)(w + i, wv);
    }
    for (; i < n; i++) {
        float grad = g[i];
        if (a->decoupled) w[i] *= a->decay;
        if (a->l2) grad += a->weight_decay * w[i];
        m[i] += a->one_minus_beta1 * (grad - m[i]);
        v[i] = a->beta2 * v[i] + a->one_minus_beta2 * grad * grad;
        float denom = __builtin_sqrtf(v[i]) / a->bias2_sqrt + a->eps;
        w[i] -= a->step_size * (m[i] / denom);
    }
}

#undef K
