#include <hdf5.h>
#include <string.h>
#include "CHDF5Shim.h"

hid_t loom_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
hid_t loom_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
hid_t loom_h5t_native_int8(void) { return H5T_NATIVE_INT8; }
hid_t loom_h5t_native_int16(void) { return H5T_NATIVE_INT16; }
hid_t loom_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
hid_t loom_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
hid_t loom_h5t_native_uint8(void) { return H5T_NATIVE_UINT8; }
hid_t loom_h5t_native_uint16(void) { return H5T_NATIVE_UINT16; }
hid_t loom_h5t_native_uint32(void) { return H5T_NATIVE_UINT32; }
hid_t loom_h5t_native_uint64(void) { return H5T_NATIVE_UINT64; }
hid_t loom_h5t_c_s1(void) { return H5T_C_S1; }
size_t loom_h5t_variable(void) { return H5T_VARIABLE; }
hid_t loom_h5p_default(void) { return H5P_DEFAULT; }
hid_t loom_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
hid_t loom_h5p_file_access(void) { return H5P_FILE_ACCESS; }
hid_t loom_h5p_link_create(void) { return H5P_LINK_CREATE; }
hid_t loom_h5s_all(void) { return H5S_ALL; }
hsize_t loom_h5s_unlimited(void) { return H5S_UNLIMITED; }
unsigned loom_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
unsigned loom_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }
unsigned loom_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
void loom_h5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

struct loom_error_sink {
    char *buffer;
    size_t size;
    int found;
};

// Walking upward visits the most specific entry first; keep only that one.
static herr_t loom_keep_innermost(unsigned n, const H5E_error2_t *entry, void *data) {
    struct loom_error_sink *sink = (struct loom_error_sink *)data;
    if (n == 0 && entry != NULL && entry->desc != NULL && sink->size > 0) {
        strncpy(sink->buffer, entry->desc, sink->size - 1);
        sink->buffer[sink->size - 1] = '\0';
        sink->found = 1;
    }
    return 0;
}

int loom_h5_innermost_error(char *buffer, size_t size) {
    struct loom_error_sink sink = { buffer, size, 0 };
    if (size > 0) buffer[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, loom_keep_innermost, &sink);
    return sink.found;
}

// A checksum failure anywhere on the stack: Fletcher-32 on a chunk ("data error detected by
// Fletcher32 checksum") or a metadata checksum. libhdf5 reports both only in words, so the
// words are what is matched.
static herr_t loom_find_checksum(unsigned n, const H5E_error2_t *entry, void *data) {
    (void)n;
    if (entry != NULL && entry->desc != NULL && strstr(entry->desc, "checksum") != NULL) *(int *)data = 1;
    return 0;
}

int loom_h5_checksum_failed(void) {
    int found = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, loom_find_checksum, &found);
    return found;
}

int loom_h5_file_descriptor(hid_t file) {
    void *handle = NULL;
    if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || handle == NULL) return -1;
    return *(int *)handle;
}
