/* A plain C STREAM copy (a = b): the check on miniapp bench's own copy,
 * whose bandwidth sets the stencil's roofline bound. If ours were the slower
 * copy, the bound would be low and the kernel's fraction of it flattered.
 * Same arrays as ours (2 MiB aligned, huge pages asked for, first touch by
 * the copying thread), OpenMP threads over contiguous blocks, full-width
 * vector loads and stores (AVX-512 where -march=native has it). Each variant,
 * with and without software prefetch 8 KiB ahead (the distance ours uses), is
 * timed REPEATS times after a warm-up; the better variant's median and best
 * run are printed, as GB/s counting 16 bytes per element as STREAM does.
 *
 *   copy_reference ELEMENTS REPEATS THREADS [stream]   prints JSON
 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__AVX512F__)
typedef __m512d vec;
#define WIDTH 8
#define LOAD _mm512_load_pd
#define STORE _mm512_store_pd
#define STREAM _mm512_stream_pd
#else
typedef __m256d vec;
#define WIDTH 4
#define LOAD _mm256_load_pd
#define STORE _mm256_store_pd
#define STREAM _mm256_stream_pd
#endif
#define AHEAD 1024 /* doubles: 8 KiB */

/* One thread's block [begin, end); begin and end are multiples of 8. */
static void copy_block(double *restrict a, const double *restrict b, long begin, long end, int streaming,
                       int prefetch) {
    for (long i = begin; i < end; i += 8) {
        if (prefetch) {
            _mm_prefetch((const char *)(b + i + AHEAD), _MM_HINT_T0);
            if (!streaming) _mm_prefetch((const char *)(a + i + AHEAD / 2), _MM_HINT_T0);
        }
        for (int k = 0; k < 8; k += WIDTH) {
            vec x = LOAD(b + i + k);
            /* No instruction: hides that x is a copy of b, or gcc turns the loop into memmove, whose
             * large copies use glibc's non-temporal stores (the "ordinary" figure measured them). */
            __asm__("" : "+v"(x));
            if (streaming) STREAM(a + i + k, x); else STORE(a + i + k, x);
        }
    }
    if (streaming) _mm_sfence();
}

static int by_value(const void *x, const void *y) {
    double p = *(const double *)x, q = *(const double *)y;
    return (p > q) - (p < q);
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s ELEMENTS REPEATS THREADS [stream]\n", argv[0]); return 64; }
    long n = atol(argv[1]) / 64 * 64;
    int repeats = atoi(argv[2]), threads = atoi(argv[3]);
    int streaming = argc > 4 && strcmp(argv[4], "stream") == 0;
    if (n <= 0 || repeats < 1 || threads < 1) { fprintf(stderr, "copy_reference: bad arguments\n"); return 64; }
    omp_set_num_threads(threads);
    size_t bytes = (size_t)n * sizeof(double);
    double *a = aligned_alloc(1 << 21, bytes), *b = aligned_alloc(1 << 21, bytes);
    double *times = malloc(sizeof(double) * repeats);
    if (!a || !b || !times) { fprintf(stderr, "copy_reference: out of memory\n"); return 71; }
    madvise(a, bytes, MADV_HUGEPAGE);
    madvise(b, bytes, MADV_HUGEPAGE);
    double best_median = 0, best_run = 0;
#pragma omp parallel
    {
        int t = omp_get_thread_num(), parts = omp_get_num_threads();
        long begin = n / 8 * t / parts * 8, end = n / 8 * (t + 1) / parts * 8;
        for (long i = begin; i < end; i++) { a[i] = 1; b[i] = 2; }
        for (int prefetch = 0; prefetch <= 1; prefetch++) {
            for (int r = -1; r < repeats; r++) { /* r = -1: warm-up */
#pragma omp barrier
                double t0 = omp_get_wtime();
                copy_block(a, b, begin, end, streaming, prefetch);
#pragma omp barrier
#pragma omp master
                if (r >= 0) times[r] = omp_get_wtime() - t0;
            }
#pragma omp master
            {
                qsort(times, repeats, sizeof(double), by_value);
                double median = 16.0 * n / times[repeats / 2] / 1e9, best = 16.0 * n / times[0] / 1e9;
                if (median > best_median) best_median = median;
                if (best > best_run) best_run = best;
            }
#pragma omp barrier
        }
    }
    printf("{\"elements\": %ld, \"threads\": %d, \"streaming\": %d, \"vector_bits\": %d, "
           "\"gb_per_s_median\": %.3f, \"gb_per_s_best\": %.3f, \"check\": %.1f}\n",
           n, threads, streaming, WIDTH * 64, best_median, best_run, a[n / 2] + a[n - 1]);
    free(a); free(b); free(times);
    return 0;
}
