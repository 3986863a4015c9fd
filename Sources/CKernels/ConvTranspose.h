// The shape whose forward convolution is a stride-1 convolution's input gradient (internal).
#ifndef LOOM_CONV_TRANSPOSE_H
#define LOOM_CONV_TRANSPOSE_H

#include "CKernels.h"

/// dx of a stride-1 convolution is the forward pass of the transposed one: OC input channels,
/// C output channels, the output plane as input, padding k − 1 − p, stride 1.
static inline struct loom_conv_shape loom_conv_transposed_shape(const struct loom_conv_shape *s) {
    struct loom_conv_shape t = {s->out_channels, s->in_channels, s->height + 2 * s->padding - s->kernel + 1,
                                s->width + 2 * s->padding - s->kernel + 1, s->kernel, 1, s->kernel - 1 - s->padding};
    return t;
}

#endif
