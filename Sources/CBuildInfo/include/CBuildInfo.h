// How this binary was built, for the run metadata of results files: the
// strings scripts/configure writes into miniapp_build_info.h before every
// build ("unknown" for a build without it).
#ifndef CBUILDINFO_H
#define CBUILDINFO_H

const char *miniapp_build_git_commit(void);
const char *miniapp_build_compiler(void);
const char *miniapp_build_mpi_wrapper(void);

#endif
