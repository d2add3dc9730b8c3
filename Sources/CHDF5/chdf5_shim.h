// HDF5's predefined types and property-list classes are macros that call
// H5open() and read a global; Swift cannot import them. These accessors do.
#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H

#include <hdf5.h>
// Written by scripts/configure: whether HDF5's high-level library is linked.
#if __has_include("miniapp_hdf5_build.h")
#include "miniapp_hdf5_build.h"
#endif

static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_c_s1(void) { return H5T_C_S1; }

static inline hid_t chdf5_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t chdf5_file_create(void) { return H5P_FILE_CREATE; }
static inline hid_t chdf5_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t chdf5_dataset_xfer(void) { return H5P_DATASET_XFER; }
static inline hid_t chdf5_link_create(void) { return H5P_LINK_CREATE; }

static inline unsigned chdf5_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_acc_excl(void) { return H5F_ACC_EXCL; }
static inline unsigned chdf5_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_acc_rdwr(void) { return H5F_ACC_RDWR; }

static inline hsize_t chdf5_unlimited(void) { return H5S_UNLIMITED; }
static inline size_t chdf5_variable(void) { return H5T_VARIABLE; }

// Dimension scales (HDF5's high-level library, where scripts/configure found
// it): 1 when they are available, else the calls do nothing and return -1.
#if defined(MINIAPP_HDF5_HL) && MINIAPP_HDF5_HL
#include <H5DSpublic.h>
static inline int chdf5_has_dimension_scales(void) { return 1; }
static inline herr_t chdf5_set_scale(hid_t dataset, const char *name) { return H5DSset_scale(dataset, name); }
static inline herr_t chdf5_attach_scale(hid_t dataset, hid_t scale, unsigned dimension) {
    return H5DSattach_scale(dataset, scale, dimension);
}
#else
static inline int chdf5_has_dimension_scales(void) { return 0; }
static inline herr_t chdf5_set_scale(hid_t dataset, const char *name) { (void)dataset; (void)name; return -1; }
static inline herr_t chdf5_attach_scale(hid_t dataset, hid_t scale, unsigned dimension) {
    (void)dataset; (void)scale; (void)dimension; return -1;
}
#endif

#endif
