// The zero-padded polyphase layout that the depthwise convolution (LayerKernels.c) and the
// direct convolution (ConvKernels.c) copy input planes into: s² sub-planes of ⌈(H + 2p) / s⌉
// rows of wq = ⌈(W + 2p) / s⌉ floats, so that every tap of any stride is one flat,
// unit-stride vector loop over an output grid of oh rows of wq. Internal to CKernels.
#ifndef LOOM_POLYPHASE_H
#define LOOM_POLYPHASE_H

struct polyphase {
    long hp, wp;          // padded plane
    long hq, wq;          // one sub-plane: ⌈hp / s⌉ rows of ⌈wp / s⌉
    long oh, ow;          // output plane
    long grid;            // oh·wq rounded up to 16: the outputs computed per plane
    long plane_stride;    // floats per sub-plane, with room for the reads past its last row
};

static inline long polyphase_round16(long n) { return (n + 15) / 16 * 16; }

/// The layout of an H x W plane under a K x K kernel of stride s and padding p.
static inline struct polyphase polyphase_layout(long h, long w, long k, long s, long p) {
    struct polyphase l;
    l.hp = h + 2 * p;
    l.wp = w + 2 * p;
    l.hq = (l.hp + s - 1) / s;
    l.wq = (l.wp + s - 1) / s;
    l.oh = (l.hp - k) / s + 1;
    l.ow = (l.wp - k) / s + 1;
    l.grid = polyphase_round16(l.oh * l.wq);
    long reach = ((k - 1) / s) * l.wq + (k - 1) / s;
    long rows = l.hq * l.wq;
    l.plane_stride = polyphase_round16(rows > l.grid + reach ? rows : l.grid + reach);
    return l;
}

#endif
