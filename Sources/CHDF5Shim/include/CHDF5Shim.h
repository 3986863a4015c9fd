#ifndef LOOM_CHDF5_SHIM_H
#define LOOM_CHDF5_SHIM_H
// HDF5 exposes its native type ids and default property list as macros that expand to
// function calls or global reads (H5T_NATIVE_FLOAT is `(H5open(), H5T_NATIVE_FLOAT_g)`),
// which Swift cannot import. These functions return the same values.
#include <hdf5.h>

hid_t loom_h5t_native_float(void);
hid_t loom_h5t_native_double(void);
hid_t loom_h5t_native_int32(void);
hid_t loom_h5t_native_int64(void);
hid_t loom_h5t_native_uint8(void);
hid_t loom_h5t_native_uint64(void);
hid_t loom_h5t_c_s1(void);
hid_t loom_h5p_default(void);
hid_t loom_h5p_dataset_create(void);
hid_t loom_h5p_file_access(void);
hid_t loom_h5p_link_create(void);
hid_t loom_h5s_all(void);
hsize_t loom_h5s_unlimited(void);
/// Turns off HDF5's automatic error printing for the default error stack.
void loom_h5_silence_errors(void);

#endif
