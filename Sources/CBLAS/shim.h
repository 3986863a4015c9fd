#include <cblas.h>
// openblas_set_num_threads and openblas_get_num_threads come from OpenBLAS's cblas.h.
