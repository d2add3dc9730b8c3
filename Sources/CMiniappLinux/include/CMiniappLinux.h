// Linux-only system calls that Glibc does not expose to Swift (CPU affinity,
// futexes), the few atomic operations the thread pool needs on memory it
// allocates itself (a futex word must be a plain, addressable 32-bit integer),
// and the stop-signal handler (a handler must not run Swift code).
#ifndef CMINIAPP_LINUX_H
#define CMINIAPP_LINUX_H

#include <stdint.h>
#include <stddef.h>

// --- CPU affinity -----------------------------------------------------------

// Writes the CPUs the calling thread may run on into `cpus` (at most
// `capacity`), in increasing order; returns how many there are, or -1.
int miniapp_thread_affinity(int *cpus, int capacity);

// Binds the calling thread to one CPU; returns 0 or an errno value.
int miniapp_pin_thread_to_cpu(int cpu);

// The CPU the calling thread is running on now (sched_getcpu), or -1.
int miniapp_current_cpu(void);

// --- futex --------------------------------------------------------------------

// Sleeps while *word == expected (spurious wake-ups possible).
void miniapp_futex_wait(uint32_t *word, uint32_t expected);
// Wakes up to `count` threads sleeping on word.
void miniapp_futex_wake(uint32_t *word, int count);

// --- atomics on plain memory (sequentially consistent) ------------------------

static inline uint32_t miniapp_atomic_load(const uint32_t *p) {
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}
static inline uint32_t miniapp_atomic_load_acquire(const uint32_t *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void miniapp_atomic_store(uint32_t *p, uint32_t v) {
    __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}
static inline uint32_t miniapp_atomic_fetch_add(uint32_t *p, uint32_t v) {
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
static inline uint32_t miniapp_atomic_fetch_sub(uint32_t *p, uint32_t v) {
    return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST);
}

// A spin-wait hint to the core (PAUSE on x86, YIELD on ARM).
static inline void miniapp_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

// --- memory -------------------------------------------------------------------

// Asks for transparent huge pages on [p, p + bytes) (madvise MADV_HUGEPAGE).
void miniapp_advise_huge_pages(void *p, size_t bytes);

// Memory available to new allocations (MemAvailable from /proc/meminfo), in
// bytes, or 0 when it cannot be read.
uint64_t miniapp_available_memory(void);

// --- stop signals ---------------------------------------------------------------

// Installs the handler for SIGTERM, SIGINT and SIGUSR1: the first signal is
// recorded (see miniapp_stop_signal); a second one removes the registered
// files and ends the process with status 128 + signal. Returns 0 or -1.
int miniapp_install_stop_handlers(void);
// The first stop signal received, or 0.
int miniapp_stop_signal(void);
// Blocks the stop signals in the calling thread (worker threads), so that
// the main thread, which polls the flag, is the one they interrupt.
void miniapp_block_stop_signals_in_thread(void);
// Registers a file to remove if a second signal ends the process; returns a
// slot for miniapp_unregister_cleanup, or -1 when none is free.
int miniapp_register_cleanup(const char *path);
void miniapp_unregister_cleanup(int slot);
// Removes every registered file now (before MPI_Abort after an error).
void miniapp_remove_registered_files(void);

#endif
