// What Swift needs of <mpi.h>, the same for both ABI families of MPI.
//
// Open MPI's handles are pointers to objects and its predefined handles are
// macros that expand to casts of the addresses of globals; MPICH's (and
// Intel MPI's, MVAPICH's, Cray MPICH's) handles are `int` and its predefined
// handles integer constants. Swift imports neither family's macros, and
// imports the pointers as optionals, so code written against one family
// does not type-check against the other. Here:
//   - cmpi_comm, cmpi_datatype, cmpi_request, cmpi_op, cmpi_info and
//     cmpi_errhandler are the handle types, non-optional in Swift for both
//     (an Open MPI handle, MPI_*_NULL included, is never a NULL pointer);
//   - accessors return the predefined handles and constants;
//   - the calls that write handles or arrays of handles take these types.
// The rest of MPI is called directly: passing a handle by value type-checks
// for both. No MPI_Status is ever read (MPI_STATUS(ES)_IGNORE only), so its
// layout, which differs between the families, does not matter.
#ifndef CMPI_SHIM_H
#define CMPI_SHIM_H

#include <mpi.h>
#include <stdint.h>
// Written by scripts/configure beside the generated pkg-config files: the
// compiler wrapper of this build and the launcher that goes with it.
#if __has_include("miniapp_mpi_build.h")
#include "miniapp_mpi_build.h"
#else
#error "no build configuration: build with scripts/setup (or scripts/configure, then the swift command it prints)"
#endif

#if defined(OPEN_MPI) && OPEN_MPI
#define CMPI_HANDLE _Nonnull
#else
#define CMPI_HANDLE
#endif

typedef MPI_Comm CMPI_HANDLE cmpi_comm;
typedef MPI_Datatype CMPI_HANDLE cmpi_datatype;
typedef MPI_Request CMPI_HANDLE cmpi_request;
typedef MPI_Op CMPI_HANDLE cmpi_op;
typedef MPI_Info CMPI_HANDLE cmpi_info;
typedef MPI_Errhandler CMPI_HANDLE cmpi_errhandler;

// MARK: Predefined handles and constants

static inline cmpi_comm cmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline cmpi_comm cmpi_comm_null(void) { return MPI_COMM_NULL; }

static inline cmpi_datatype cmpi_double(void) { return MPI_DOUBLE; }
static inline cmpi_datatype cmpi_int64(void) { return MPI_INT64_T; }
static inline cmpi_datatype cmpi_int32(void) { return MPI_INT32_T; }
static inline cmpi_datatype cmpi_byte(void) { return MPI_BYTE; }
static inline cmpi_datatype cmpi_datatype_null(void) { return MPI_DATATYPE_NULL; }

static inline cmpi_op cmpi_op_sum(void) { return MPI_SUM; }
static inline cmpi_op cmpi_op_max(void) { return MPI_MAX; }
static inline cmpi_op cmpi_op_min(void) { return MPI_MIN; }

static inline void *cmpi_in_place(void) { return MPI_IN_PLACE; }
static inline cmpi_request cmpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline cmpi_info cmpi_info_null(void) { return MPI_INFO_NULL; }
static inline cmpi_errhandler cmpi_errors_return(void) { return MPI_ERRORS_RETURN; }

static inline int cmpi_success(void) { return MPI_SUCCESS; }
static inline int cmpi_err_count(void) { return MPI_ERR_COUNT; }
static inline int cmpi_err_topology(void) { return MPI_ERR_TOPOLOGY; }
static inline int cmpi_proc_null(void) { return MPI_PROC_NULL; }
static inline int cmpi_undefined(void) { return MPI_UNDEFINED; }
static inline int cmpi_thread_single(void) { return MPI_THREAD_SINGLE; }
static inline int cmpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int cmpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int cmpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }
static inline int cmpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline int cmpi_max_library_version_string(void) { return MPI_MAX_LIBRARY_VERSION_STRING; }
static inline int cmpi_max_processor_name(void) { return MPI_MAX_PROCESSOR_NAME; }

// MARK: The MPI this was compiled against

/// 1: Open MPI; 2: the MPICH family (MPICH, Intel MPI, MVAPICH, Cray MPICH).
static inline int cmpi_family(void) {
#if defined(OPEN_MPI) && OPEN_MPI
    return 1;
#elif defined(MPICH_VERSION) || defined(MPICH_NAME)
    return 2;
#else
    return 0;
#endif
}

/// The launcher scripts/configure found beside the compiler wrapper (absolute path, "" if none).
static inline const char *cmpi_configured_launcher(void) { return MINIAPP_MPI_LAUNCHER; }
/// The compiler wrapper the build used.
static inline const char *cmpi_configured_wrapper(void) { return MINIAPP_MPI_WRAPPER; }

// MARK: Calls that write handles

static inline int cmpi_cart_create(cmpi_comm parent, int ndims, const int *dims, const int *periods, int reorder,
                                   cmpi_comm *result) {
    return MPI_Cart_create(parent, ndims, dims, periods, reorder, result);
}
static inline int cmpi_comm_free(cmpi_comm *comm) { return MPI_Comm_free(comm); }

static inline int cmpi_type_vector(int count, int block_length, int stride, cmpi_datatype old_type,
                                   cmpi_datatype *result) {
    return MPI_Type_vector(count, block_length, stride, old_type, result);
}
static inline int cmpi_type_contiguous(int count, cmpi_datatype old_type, cmpi_datatype *result) {
    return MPI_Type_contiguous(count, old_type, result);
}
static inline int cmpi_type_commit(cmpi_datatype *type) { return MPI_Type_commit(type); }
static inline int cmpi_type_free(cmpi_datatype *type) { return MPI_Type_free(type); }

// User-defined reductions: MPI_User_function's last parameter is a pointer
// to the family's datatype handle, which cmpi_datatype is.
typedef void (*cmpi_user_function)(void *in, void *inout, int *length, cmpi_datatype *type);
static inline cmpi_op cmpi_op_null(void) { return MPI_OP_NULL; }
static inline int cmpi_op_create(cmpi_user_function function, int commutative, cmpi_op *result) {
    return MPI_Op_create((MPI_User_function *)function, commutative, result);
}
static inline int cmpi_op_free(cmpi_op *op) { return MPI_Op_free(op); }

static inline int cmpi_irecv(void *buffer, int count, cmpi_datatype type, int source, int tag, cmpi_comm comm,
                             cmpi_request *request) {
    return MPI_Irecv(buffer, count, type, source, tag, comm, request);
}
static inline int cmpi_isend(const void *buffer, int count, cmpi_datatype type, int destination, int tag,
                             cmpi_comm comm, cmpi_request *request) {
    return MPI_Isend(buffer, count, type, destination, tag, comm, request);
}
static inline int cmpi_testall(int count, cmpi_request *requests, int *flag) {
    return MPI_Testall(count, requests, flag, MPI_STATUSES_IGNORE);
}
static inline int cmpi_waitsome(int count, cmpi_request *requests, int *completed, int *indices) {
    return MPI_Waitsome(count, requests, completed, indices, MPI_STATUSES_IGNORE);
}
static inline int cmpi_testsome(int count, cmpi_request *requests, int *completed, int *indices) {
    return MPI_Testsome(count, requests, completed, indices, MPI_STATUSES_IGNORE);
}
static inline int cmpi_test(cmpi_request *request, int *flag) { return MPI_Test(request, flag, MPI_STATUS_IGNORE); }

// Non-blocking collectives, for waits that give the core away (MPIRuntime.yieldsWhileWaiting).
static inline int cmpi_iallreduce(void *buffer, int count, cmpi_datatype type, cmpi_op op, cmpi_comm comm,
                                  cmpi_request *request) {
    return MPI_Iallreduce(MPI_IN_PLACE, buffer, count, type, op, comm, request);
}
static inline int cmpi_ibcast(void *buffer, int count, cmpi_datatype type, int root, cmpi_comm comm,
                              cmpi_request *request) {
    return MPI_Ibcast(buffer, count, type, root, comm, request);
}
static inline int cmpi_iallgather(const void *send, int count, cmpi_datatype type, void *receive, cmpi_comm comm,
                                  cmpi_request *request) {
    return MPI_Iallgather(send, count, type, receive, count, type, comm, request);
}
static inline int cmpi_ibarrier(cmpi_comm comm, cmpi_request *request) { return MPI_Ibarrier(comm, request); }

#endif
