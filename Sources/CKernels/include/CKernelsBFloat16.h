// bfloat16 conversions for `cluster.wire: bf16` (docs/PROTOCOL.md, "bf16 payloads").
//
// bfloat16 is the top half of a float32: sign, the same 8 exponent bits, 7 fraction bits.
// Narrowing rounds to nearest, ties to even, on the bits (integer arithmetic only, so every
// instruction path and every host gives the same answer):
//   - a value between two bf16 neighbours goes to the nearer; a tie to the one whose last
//     fraction bit is 0;
//   - subnormals round like any other value (the exponent field is the same width), and
//     the largest subnormals may round up to the smallest normal;
//   - finite values at or beyond 2^128 · (1 − 2^−9) (the largest bf16, 3.3895e38, plus half
//     its last place) become ±Inf, as IEEE rounding to nearest says;
//   - ±Inf stays ±Inf; a NaN stays a NaN (its sign and top 7 fraction bits are kept and
//     the quiet bit is set, so a NaN whose payload lies in the dropped half cannot become
//     Inf).
// Widening is exact: the 16 bits move to the top of a float32 whose low half is zero.
#ifndef LOOM_CKERNELS_BFLOAT16_H
#define LOOM_CKERNELS_BFLOAT16_H

#include <stddef.h>
#include <stdint.h>

/// out[i] = bf16(x[i]), rounded to nearest even (out holds n 16-bit values).
void loom_bf16_narrow(uint16_t *out, const float *x, size_t n);
/// out[i] = x[i] widened to float32 (exact).
void loom_bf16_widen(float *out, const uint16_t *x, size_t n);
/// x[i] = widen(narrow(x[i])) in place: x rounded to the nearest bf16 value, kept as float32.
void loom_bf16_round(float *x, size_t n);
/// 1 when every x[i] is a bf16 value already (its low 16 bits are zero), else 0.
int loom_bf16_exact(const float *x, size_t n);

#endif
