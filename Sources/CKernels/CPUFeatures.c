// CPUID and XGETBV, read directly: the compiler's __builtin_cpu_supports needs a runtime
// library that Swift's link line does not always bring.
#include "CKernels.h"

#include <cpuid.h>
#include <string.h>

/// The XCR0 register: which register states the operating system saves on a switch.
static uint64_t read_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

uint32_t loom_cpu_features(void) {
    unsigned int eax, ebx, ecx, edx;
    uint32_t features = 0;
    unsigned int highest = __get_cpuid_max(0, 0);
    if (highest < 1 || !__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    if (ecx & (1u << 0)) features |= LOOM_CPU_SSE3;
    if (ecx & (1u << 9)) features |= LOOM_CPU_SSSE3;
    if (ecx & (1u << 19)) features |= LOOM_CPU_SSE41;
    if (ecx & (1u << 20)) features |= LOOM_CPU_SSE42;
    int osxsave = (ecx & (1u << 27)) != 0;
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    int ymm = (xcr0 & 0x6) == 0x6;     // SSE and AVX state
    int zmm = (xcr0 & 0xe6) == 0xe6;   // and opmask, upper ZMM0-15, ZMM16-31
    if (ymm && (ecx & (1u << 28))) features |= LOOM_CPU_AVX;
    if (ymm && (ecx & (1u << 12))) features |= LOOM_CPU_FMA;
    if (highest >= 7) {
        __cpuid_count(7, 0, eax, ebx, ecx, edx);
        if (ymm && (ebx & (1u << 5))) features |= LOOM_CPU_AVX2;
        if (zmm) {
            if (ebx & (1u << 16)) features |= LOOM_CPU_AVX512F;
            if (ebx & (1u << 17)) features |= LOOM_CPU_AVX512DQ;
            if (ebx & (1u << 30)) features |= LOOM_CPU_AVX512BW;
            if (ebx & (1u << 31)) features |= LOOM_CPU_AVX512VL;
            unsigned int subleaves = eax;
            if (subleaves >= 1) {
                __cpuid_count(7, 1, eax, ebx, ecx, edx);
                if (eax & (1u << 5)) features |= LOOM_CPU_AVX512BF16;
            }
        }
    }
    return features;
}

void loom_cpu_vendor(char vendor[13]) {
    unsigned int eax, ebx, ecx, edx;
    memset(vendor, 0, 13);
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return;
    memcpy(vendor, &ebx, 4);
    memcpy(vendor + 4, &edx, 4);
    memcpy(vendor + 8, &ecx, 4);
}

uint32_t loom_cpu_family(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    uint32_t base = (eax >> 8) & 0xf;
    return base == 0xf ? base + ((eax >> 20) & 0xff) : base;
}
