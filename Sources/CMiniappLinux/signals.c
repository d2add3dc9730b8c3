// Graceful stop on SIGTERM, SIGINT and SIGUSR1: the handler only records the
// signal; the time loop polls it at step boundaries, where all ranks agree to
// checkpoint and stop. A second signal ends the process at once, removing the
// files registered as unfinished so that nothing half-written stays behind.
#define _GNU_SOURCE
#include "CMiniappLinux.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define CLEANUP_SLOTS 4
#define CLEANUP_PATH_MAX 4096

static volatile sig_atomic_t stop_signal = 0;
// A slot is read by the handler only while its flag is set; the main thread
// clears the flag before it changes the path.
static volatile sig_atomic_t cleanup_used[CLEANUP_SLOTS];
static char cleanup_paths[CLEANUP_SLOTS][CLEANUP_PATH_MAX];

static const int stop_signals[] = {SIGTERM, SIGINT, SIGUSR1};

static void on_stop_signal(int signal) {
    if (stop_signal != 0) {
        // Second signal: only async-signal-safe calls (unlink, _exit).
        miniapp_remove_registered_files();
        _exit(128 + signal);
    }
    stop_signal = signal;
}

int miniapp_install_stop_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    // Restart interrupted system calls: MPI and HDF5 need not see EINTR.
    action.sa_flags = SA_RESTART;
    for (size_t k = 0; k < sizeof stop_signals / sizeof stop_signals[0]; k++) {
        if (sigaction(stop_signals[k], &action, NULL) != 0) return -1;
    }
    return 0;
}

int miniapp_stop_signal(void) { return stop_signal; }

void miniapp_block_stop_signals_in_thread(void) {
    sigset_t set;
    sigemptyset(&set);
    for (size_t k = 0; k < sizeof stop_signals / sizeof stop_signals[0]; k++) sigaddset(&set, stop_signals[k]);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int miniapp_register_cleanup(const char *path) {
    if (strlen(path) >= CLEANUP_PATH_MAX) return -1;
    for (int slot = 0; slot < CLEANUP_SLOTS; slot++) {
        if (cleanup_used[slot]) continue;
        strcpy(cleanup_paths[slot], path);
        cleanup_used[slot] = 1;
        return slot;
    }
    return -1;
}

void miniapp_unregister_cleanup(int slot) {
    if (slot >= 0 && slot < CLEANUP_SLOTS) cleanup_used[slot] = 0;
}

void miniapp_remove_registered_files(void) {
    for (int slot = 0; slot < CLEANUP_SLOTS; slot++) {
        if (cleanup_used[slot]) unlink(cleanup_paths[slot]);
    }
}
