// Instructions the kernels need and Swift cannot express: non-temporal
// ("streaming") stores, which write a cache line without reading it first
// (no write-allocate: 16 instead of 24 bytes of memory traffic per stencil
// update), and the store fence that orders them. Static inline, so the
// Swift kernels inline them into their vector loops.
#ifndef CKERNEL_SHIMS_H
#define CKERNEL_SHIMS_H

typedef double kernels_double4 __attribute__((ext_vector_type(4)));

/// Stores 4 doubles at p (32-byte aligned) bypassing the caches.
static inline void kernels_stream4(double *p, kernels_double4 v) {
    __builtin_nontemporal_store(v, (kernels_double4 *)p);
}

/// Makes earlier streaming stores visible before later stores (x86 sfence).
static inline void kernels_store_fence(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_sfence();
#else
    __atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

#endif
