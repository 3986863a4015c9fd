#include "CPNGShim.h"
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- errors ------------------------------------------------------------------------------
// libpng calls error_fn and expects it not to return: store the message, then longjmp back
// to the setjmp in the decode or encode function.

typedef struct {
    char *error;
    size_t error_size;
    // reading
    const unsigned char *data;
    size_t size;
    size_t offset;
    // writing
    unsigned char *out;
    size_t out_size;
    size_t out_capacity;
    int out_failed;
} loom_png_io;

static void loom_png_error(png_structp png, png_const_charp message) {
    loom_png_io *io = (loom_png_io *)png_get_error_ptr(png);
    if (io->error_size > 0) snprintf(io->error, io->error_size, "%s", message);
    png_longjmp(png, 1);
}

static void loom_png_warning(png_structp png, png_const_charp message) {
    (void)png; (void)message;   // warnings (bad ancillary chunks, ...) do not stop the decode
}

static void loom_png_read(png_structp png, png_bytep out, png_size_t length) {
    loom_png_io *io = (loom_png_io *)png_get_io_ptr(png);
    if (length > io->size - io->offset) png_error(png, "file is truncated");
    memcpy(out, io->data + io->offset, length);
    io->offset += length;
}

static void loom_png_write(png_structp png, png_bytep data, png_size_t length) {
    loom_png_io *io = (loom_png_io *)png_get_io_ptr(png);
    if (io->out_size + length > io->out_capacity) {
        size_t capacity = io->out_capacity ? io->out_capacity : 4096;
        while (capacity < io->out_size + length) capacity *= 2;
        unsigned char *grown = realloc(io->out, capacity);
        if (!grown) png_error(png, "out of memory");
        io->out = grown;
        io->out_capacity = capacity;
    }
    memcpy(io->out + io->out_size, data, length);
    io->out_size += length;
}

static void loom_png_flush(png_structp png) { (void)png; }

// ---- decode ------------------------------------------------------------------------------

int loom_png_decode_rgba(const unsigned char *data, size_t size, size_t max_pixels,
                         unsigned char **pixels, unsigned *width, unsigned *height,
                         char *error, size_t error_size) {
    loom_png_io io = {0};
    io.error = error; io.error_size = error_size; io.data = data; io.size = size;
    if (error_size > 0) error[0] = 0;
    *pixels = NULL;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(error, error_size, "not a PNG file (bad signature)");
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &io, loom_png_error, loom_png_warning);
    if (!png) { snprintf(error, error_size, "cannot create PNG reader"); return -1; }
    png_infop info = png_create_info_struct(png);
    // Volatile: assigned between setjmp and longjmp, read after the jump.
    unsigned char *volatile rows_data = NULL;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        free(rows_data);
        free(rows);
        if (error_size > 0 && error[0] == 0) snprintf(error, error_size, "cannot decode PNG");
        return -1;
    }
    png_set_read_fn(png, &io, loom_png_read);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((size_t)w * (size_t)h > max_pixels) {
        snprintf(error, error_size, "%ux%u pixels is more than the limit of %zu", (unsigned)w, (unsigned)h, max_pixels);
        png_longjmp(png, 1);
    }
    int color = png_get_color_type(png, info);
    png_set_expand(png);                       // palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha
    png_set_strip_16(png);                     // 16-bit samples: keep the high byte
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    if (!(color & PNG_COLOR_MASK_ALPHA) && !png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 4) png_error(png, "unexpected row size after conversion to RGBA");
    rows_data = malloc((size_t)w * h * 4);
    rows = malloc(sizeof(png_bytep) * h);
    if (!rows_data || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = rows_data + (size_t)y * w * 4;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    *pixels = rows_data;
    *width = w;
    *height = h;
    return 0;
}

// ---- encode ------------------------------------------------------------------------------

int loom_png_encode(const unsigned char *pixels, unsigned width, unsigned height, int color_type,
                    int bit_depth, unsigned char **out, size_t *out_size, char *error, size_t error_size) {
    loom_png_io io = {0};
    io.error = error; io.error_size = error_size;
    if (error_size > 0) error[0] = 0;
    *out = NULL;
    *out_size = 0;
    int channels = color_type == 0 ? 1 : color_type == 2 ? 3 : color_type == 4 ? 2 : color_type == 6 ? 4 : 0;
    if (channels == 0 || (bit_depth != 8 && bit_depth != 16) || width == 0 || height == 0) {
        snprintf(error, error_size, "unsupported PNG colour type %d, bit depth %d or size %ux%u",
                 color_type, bit_depth, width, height);
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &io, loom_png_error, loom_png_warning);
    if (!png) { snprintf(error, error_size, "cannot create PNG writer"); return -1; }
    png_infop info = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        free(rows);
        free(io.out);
        if (error_size > 0 && error[0] == 0) snprintf(error, error_size, "cannot encode PNG");
        return -1;
    }
    png_set_write_fn(png, &io, loom_png_write, loom_png_flush);
    png_set_IHDR(png, info, width, height, bit_depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t row_bytes = (size_t)width * channels * (bit_depth / 8);
    rows = malloc(sizeof(png_bytep) * height);
    if (!rows) png_error(png, "out of memory");
    for (unsigned y = 0; y < height; y++) rows[y] = (png_bytep)(pixels + (size_t)y * row_bytes);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    *out = io.out;
    *out_size = io.out_size;
    return 0;
}

void loom_png_free(void *pointer) { free(pointer); }
