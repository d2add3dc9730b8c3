#include "CBuildInfo.h"

// Only this file includes the generated header: a new commit recompiles it alone.
#if __has_include("miniapp_build_info.h")
#include "miniapp_build_info.h"
#endif
#ifndef MINIAPP_GIT_COMMIT
#define MINIAPP_GIT_COMMIT "unknown"
#endif
#ifndef MINIAPP_COMPILER
#define MINIAPP_COMPILER "unknown"
#endif
#ifndef MINIAPP_MPI_WRAPPER_USED
#define MINIAPP_MPI_WRAPPER_USED "unknown"
#endif

const char *miniapp_build_git_commit(void) { return MINIAPP_GIT_COMMIT; }
const char *miniapp_build_compiler(void) { return MINIAPP_COMPILER; }
const char *miniapp_build_mpi_wrapper(void) { return MINIAPP_MPI_WRAPPER_USED; }
