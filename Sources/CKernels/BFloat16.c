// bfloat16 rounding, narrowing and widening (CKernelsBFloat16.h states the rules).
//
// Integer arithmetic on the float's bits, 8 lanes at a time with clang's vector types
// (SSE2 runs them as two 4-lane halves), then the same rule one value at a time for the
// tail. Nothing here rounds a float operation, so every path gives the same bits.
#include "CKernels.h"

#include <string.h>

// narrow_lanes is static and the whole file has one target, so the ABI clang warns about
// (-Wpsabi) for its 32-byte vectors without AVX is never crossed.
#pragma clang diagnostic ignored "-Wpsabi"
typedef uint32_t v8u __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef uint16_t v8h __attribute__((vector_size(16)));

/// The bf16 bits of the float32 bits `u`: add 0x7FFF plus the last kept bit (so that a
/// dropped half of exactly 0x8000 rounds to even) and keep the top 16; a NaN keeps its top
/// bits with the quiet bit set.
static inline uint16_t narrow_one(uint32_t u) {
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

static inline v8u narrow_lanes(v8u u) {
    v8u rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    v8u quiet = (u >> 16) | 0x0040u;
    // Magnitudes above Inf's bits are NaNs; both sides fit in int32, so a signed compare works.
    v8u isNaN = (v8u)((v8i)(u & 0x7FFFFFFFu) > 0x7F800000);
    return (quiet & isNaN) | (rounded & ~isNaN);
}

void loom_bf16_narrow(uint16_t *out, const float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v8u u;
        memcpy(&u, x + i, sizeof u);
        v8h h = __builtin_convertvector(narrow_lanes(u), v8h);
        memcpy(out + i, &h, sizeof h);
    }
    for (; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, 4);
        out[i] = narrow_one(u);
    }
}

void loom_bf16_widen(float *out, const uint16_t *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v8h h;
        memcpy(&h, x + i, sizeof h);
        v8u u = __builtin_convertvector(h, v8u) << 16;
        memcpy(out + i, &u, sizeof u);
    }
    for (; i < n; i++) {
        uint32_t u = (uint32_t)x[i] << 16;
        memcpy(out + i, &u, 4);
    }
}

void loom_bf16_round(float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v8u u;
        memcpy(&u, x + i, sizeof u);
        u = narrow_lanes(u) << 16;
        memcpy(x + i, &u, sizeof u);
    }
    for (; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, 4);
        u = (uint32_t)narrow_one(u) << 16;
        memcpy(x + i, &u, 4);
    }
}

int loom_bf16_exact(const float *x, size_t n) {
    size_t i = 0;
    v8u any = {0};
    for (; i + 8 <= n; i += 8) {
        v8u u;
        memcpy(&u, x + i, sizeof u);
        any |= u & 0xFFFFu;
    }
    uint32_t low = 0;
    for (int k = 0; k < 8; k++) low |= any[k];
    for (; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, 4);
        low |= u & 0xFFFFu;
    }
    return low == 0;
}
