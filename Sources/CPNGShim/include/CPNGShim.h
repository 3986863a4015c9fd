#ifndef LOOM_CPNG_SHIM_H
#define LOOM_CPNG_SHIM_H
// libpng reports errors by longjmp, which Swift cannot catch; these two functions keep the
// setjmp inside C and return a status with a message instead.
#include <stddef.h>

/// Decodes the PNG in `data` (`size` bytes) to 8-bit RGBA, row-major, 4 bytes a pixel:
/// palette and low-bit-depth images are expanded, gray becomes R = G = B, 16-bit samples
/// keep their high byte, images without alpha (and without tRNS) get alpha 255. Gamma
/// chunks are ignored: the stored values are returned as they are.
/// Images with more than `max_pixels` pixels are refused before any pixel is decoded.
/// Returns 0 and sets `*pixels` (free with loom_png_free), `*width`, `*height`; or returns
/// -1 with a NUL-terminated message in `error` (at most `error_size` bytes).
int loom_png_decode_rgba(const unsigned char *data, size_t size, size_t max_pixels,
                         unsigned char **pixels, unsigned *width, unsigned *height,
                         char *error, size_t error_size);

/// Encodes `pixels` (row-major samples; 16-bit samples big-endian, as PNG stores them) as a
/// PNG with `color_type` 0 (gray), 2 (RGB), 4 (gray + alpha) or 6 (RGBA) and `bit_depth`
/// 8 or 16, no gamma chunk. Returns 0 and sets `*out` (free with loom_png_free) and
/// `*out_size`, or -1 with a message in `error`.
int loom_png_encode(const unsigned char *pixels, unsigned width, unsigned height, int color_type,
                    int bit_depth, unsigned char **out, size_t *out_size, char *error, size_t error_size);

void loom_png_free(void *pointer);

#endif
