// Instructions the kernels need and Swift cannot express: non-temporal
// ("streaming") stores, which write a cache line without reading it first
// (no write-allocate: 16 instead of 24 bytes of memory traffic per stencil
// update), the store fence that orders them, software prefetch, and an
// optimiser barrier for an index. Static inline, so the Swift kernels inline
// them into their vector loops.
#ifndef CKERNEL_SHIMS_H
#define CKERNEL_SHIMS_H

typedef double kernels_double8 __attribute__((ext_vector_type(8)));

/// Stores 8 doubles (a cache line) at p (64-byte aligned) bypassing the caches.
static inline void kernels_stream8(double *p, kernels_double8 v) {
    __builtin_nontemporal_store(v, (kernels_double8 *)p);
}

/// Stores 8 doubles at p (any alignment) as one 64-byte store where the
/// target has 512-bit vectors. (LLVM's tuning for x86-64-v4 prefers 256-bit
/// vectors: a Swift SIMD8 store in a function without other 512-bit
/// operations becomes two 32-byte stores, slower than full-line stores;
/// docs/performance.md, "Kernel measurements".)
typedef double kernels_double8_unaligned __attribute__((ext_vector_type(8), aligned(8)));
static inline void kernels_store8(double *p, kernels_double8 v) {
    *(kernels_double8_unaligned *)p = v;
}

/// Makes earlier streaming stores visible before later stores (x86 sfence).
static inline void kernels_store_fence(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_sfence();
#else
    __atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

/// Asks for the cache line at p ahead of use (prefetcht0 on x86; never
/// faults, so p may lie past the end of an array). Used for the one row a
/// sweep reads from memory and the line it is about to write: the hardware
/// prefetchers alone keep too few misses in flight for one core to reach
/// its copy bandwidth with a stencil's several streams.
static inline void kernels_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

/// Returns i unchanged, hidden from the optimiser. A band kernel loads each
/// row at i - 1 and at i + 1; seeing both, LLVM builds the west vector from
/// the east one with a lane shuffle and an inserted pair of doubles from
/// memory (two or three more instructions on the vector pipes, one of them
/// the shuffle port, per row and vector) instead of a second load.
static inline long kernels_opaque_index(long i) {
    __asm__("" : "+r"(i));
    return i;
}

#endif
