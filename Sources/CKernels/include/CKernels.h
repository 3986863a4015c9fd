// Loom's C kernels: what Swift cannot express. CPUID (which instructions this CPU and
// its operating system support) and the memory-bound loops compiled three times, for
// baseline x86-64 (SSE2), AVX2 and AVX-512, with the path chosen at run time.
//
// Every path computes the same bits. The loops work on 16-lane vectors whatever the
// path (four SSE registers, two AVX registers or one AVX-512 register hold one vector),
// reductions keep 16 partial sums and add them in one fixed order, and the target is
// compiled with -ffp-contract=off, so no path fuses a multiply and an add that another
// path rounds twice. Only the speed differs.
#ifndef LOOM_CKERNELS_H
#define LOOM_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

// MARK: - CPU features

/// Feature bits of `loom_cpu_features`. The AVX and AVX-512 bits are set only when the
/// operating system saves those registers (XGETBV), so a set bit means "usable".
enum {
    LOOM_CPU_SSE3 = 1u << 0,
    LOOM_CPU_SSSE3 = 1u << 1,
    LOOM_CPU_SSE41 = 1u << 2,
    LOOM_CPU_SSE42 = 1u << 3,
    LOOM_CPU_AVX = 1u << 4,
    LOOM_CPU_FMA = 1u << 5,
    LOOM_CPU_AVX2 = 1u << 6,
    LOOM_CPU_AVX512F = 1u << 7,
    LOOM_CPU_AVX512BW = 1u << 8,
    LOOM_CPU_AVX512DQ = 1u << 9,
    LOOM_CPU_AVX512VL = 1u << 10,
    LOOM_CPU_AVX512BF16 = 1u << 11,
};

/// The feature bits above for the CPU this runs on.
uint32_t loom_cpu_features(void);

/// The CPUID vendor string ("GenuineIntel", "AuthenticAMD", ...) into `vendor` (13 bytes
/// with the terminating zero).
void loom_cpu_vendor(char vendor[13]);

/// The CPU family (base family plus extended family, as Intel and AMD define it).
uint32_t loom_cpu_family(void);

// MARK: - Instruction paths

/// The instruction paths of the kernels below.
enum {
    LOOM_PATH_SSE2 = 0,
    LOOM_PATH_AVX2 = 1,
    LOOM_PATH_AVX512 = 2,
};

/// Makes every kernel below run `path` from now on. The caller checks that the CPU has it
/// (`loom_cpu_features`). A process starts on the widest path its CPU runs.
void loom_kernels_set_path(int path);

/// The path the kernels run.
int loom_kernels_path(void);

// MARK: - Kernels (n floats each; see KernelBodies.h for each one's definition)

/// Σ p[0..<n].
float loom_sum(const float *p, size_t n);
/// *sum = Σ d, *dot = Σ d·(x − shift).
void loom_sum_and_centred_dot(const float *d, const float *x, float shift, size_t n, float *sum, float *dot);
/// Σ (p − shift)².
float loom_centred_squares(const float *p, float shift, size_t n);
/// *sum = Σ (p − p[0]), *squares = Σ (p − p[0])².
void loom_shifted_moments(const float *p, size_t n, float *sum, float *squares);
/// q = p·scale + shift (q may be p).
void loom_affine(float *q, const float *p, float scale, float shift, size_t n);
/// *sum = Σ gate, *dot = Σ gate·(p − shift), gate = g where v > 0, else 0.
void loom_gated_sum_and_centred_dot(const float *g, const float *v, const float *p, float shift, size_t n,
                                    float *sum, float *dot);
/// d = (p − centre)·slope + shift.
void loom_centred_affine(float *d, const float *p, float centre, float slope, float shift, size_t n);
/// d = g·scale + (p − centre)·slope + shift.
void loom_scaled_plus_centred_affine(float *d, const float *g, float scale, const float *p, float centre, float slope,
                                     float shift, size_t n);
/// q += p.
void loom_add(float *q, const float *p, size_t n);
/// 1 when every value is finite, else 0.
int loom_all_finite(const float *p, size_t n);
/// out = a + b (out may be a or b); 1 when every sum is finite, else 0.
int loom_sum_into(const float *a, const float *b, float *out, size_t n);
/// y = x where x > 0 or x is NaN, else 0 (y may be x).
void loom_relu(float *y, const float *x, size_t n);
/// dx = dy where y > 0, else 0 (dx may be dy).
void loom_relu_backward(float *dx, const float *dy, const float *y, size_t n);
/// What an Adam step needs besides the arrays (PyTorch's Adam and AdamW).
struct loom_adam_parameters {
    float decay;            // AdamW: w *= decay (1 − lr·weight_decay) first
    float weight_decay;     // Adam: grad += weight_decay·w
    float one_minus_beta1;
    float beta2;
    float one_minus_beta2;
    float bias2_sqrt;       // √(1 − beta2^t)
    float eps;
    float step_size;        // lr / (1 − beta1^t)
    int decoupled;          // AdamW's decay
    int l2;                 // Adam's L2 term
};

/// Adam or AdamW over n weights: m += (1−β1)(g − m), v = β2·v + (1−β2)·g·g,
/// w −= step_size · m / (√v / bias2_sqrt + eps), with the weight decay as `a` says.
void loom_adam(float *w, const float *g, float *m, float *v, size_t n, const struct loom_adam_parameters *a);

/// Momentum SGD after its first step, without Nesterov: d = g + wd·w, b = mu·b + keep·d,
/// w = w − lr·b.
void loom_sgd_momentum(float *w, const float *g, float *b, size_t n, float lr, float wd, float mu, float keep);

// The layer kernels (SiLU, squeeze-and-excitation, depthwise convolution) and the bandwidth probe.
#include "CKernelsLayers.h"
// bfloat16 narrowing and widening for payloads on the wire.
#include "CKernelsBFloat16.h"
#include "CKernelsConv.h"
#include "CKernelsWinograd.h"
#include "CKernelsNorm.h"

#endif
