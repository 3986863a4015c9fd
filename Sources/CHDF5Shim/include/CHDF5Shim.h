#ifndef LOOM_CHDF5_SHIM_H
#define LOOM_CHDF5_SHIM_H
// HDF5 exposes its native type ids, default property lists and file access flags as
// macros that expand to function calls or global reads (H5T_NATIVE_FLOAT is
// `(H5open(), H5T_NATIVE_FLOAT_g)`), which Swift cannot import. These functions return
// the same values.
#include <hdf5.h>
#include <stddef.h>

hid_t loom_h5t_native_float(void);
hid_t loom_h5t_native_double(void);
hid_t loom_h5t_native_int8(void);
hid_t loom_h5t_native_int16(void);
hid_t loom_h5t_native_int32(void);
hid_t loom_h5t_native_int64(void);
hid_t loom_h5t_native_uint8(void);
hid_t loom_h5t_native_uint16(void);
hid_t loom_h5t_native_uint32(void);
hid_t loom_h5t_native_uint64(void);
hid_t loom_h5t_c_s1(void);
/// H5T_VARIABLE: the string size that marks a variable-length string type.
size_t loom_h5t_variable(void);
hid_t loom_h5p_default(void);
hid_t loom_h5p_dataset_create(void);
hid_t loom_h5p_file_access(void);
hid_t loom_h5p_link_create(void);
hid_t loom_h5s_all(void);
hsize_t loom_h5s_unlimited(void);
unsigned loom_h5f_acc_rdonly(void);
unsigned loom_h5f_acc_rdwr(void);
unsigned loom_h5f_acc_trunc(void);
/// Turns off HDF5's automatic error printing for the default error stack.
void loom_h5_silence_errors(void);
/// Copies the description of the innermost (most specific) entry of the default error
/// stack into `buffer` (NUL-terminated, truncated to `size`). Returns 1 if there was an
/// entry, 0 if the stack was empty. Call it right after the failing HDF5 call: any
/// later API call clears the stack.
int loom_h5_innermost_error(char *buffer, size_t size);
/// 1 if an entry of the default error stack reports a checksum failure (a chunk's
/// Fletcher-32 or a metadata checksum: the bytes on disk are not those written), else 0.
/// Like `loom_h5_innermost_error`, call it before any other HDF5 call.
int loom_h5_checksum_failed(void);
/// The POSIX file descriptor of an open file (the default sec2 driver), or -1.
int loom_h5_file_descriptor(hid_t file);

#endif
