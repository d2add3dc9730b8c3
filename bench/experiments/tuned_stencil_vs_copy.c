/* Experiment (not part of `miniapp bench`): is the gap between the
 * single-sweep stencil and the copy bound with two threads ours, or the
 * machine's? A hand-tuned C sweep with what our kernel does (AVX2 vectors,
 * streaming stores, the north row prefetched PREFETCH doubles ahead, rows
 * padded so that every output row is aligned) and a streaming copy of the
 * same bytes, alternated in one process: ROUNDS of (copy: median of 20 runs;
 * stencil: 30 sweeps of 4096^2). README, "Performance", cites its output.
 *
 *   gcc -O3 -march=native -fopenmp tuned_stencil_vs_copy.c -o tuned
 *   OMP_PROC_BIND=close OMP_PLACES=cores ./tuned THREADS [PREFETCH] [ROUNDS]
 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

enum { N = 4096, STRIDE = 4112, FIRST = 8, ROWS = N + 2, COPIES = 20, SWEEPS = 30 };

static double *field(size_t count) {
    void *p = NULL;
    if (posix_memalign(&p, 1 << 21, count * sizeof(double)) != 0) { perror("posix_memalign"); exit(1); }
    madvise(p, count * sizeof(double), MADV_HUGEPAGE);
    return p;
}

/* Rows lo..<hi of one sweep; column FIRST of every row is 64-byte aligned. */
static void sweep_rows(const double *u, double *v, size_t lo, size_t hi, long prefetch) {
    const __m256d rx = _mm256_set1_pd(0.1), ry = _mm256_set1_pd(0.1);
    for (size_t j = lo; j < hi; j++) {
        const double *c = u + j * STRIDE + FIRST, *s = c - STRIDE, *n = c + STRIDE;
        double *out = v + j * STRIDE + FIRST;
        for (size_t i = 0; i < N; i += 8) {
            _mm_prefetch((const char *)(n + i + prefetch), _MM_HINT_T0);
            for (int h = 0; h < 8; h += 4) {
                __m256d here = _mm256_loadu_pd(c + i + h), twice = _mm256_add_pd(here, here);
                __m256d x = _mm256_sub_pd(_mm256_add_pd(_mm256_loadu_pd(c + i + h - 1), _mm256_loadu_pd(c + i + h + 1)), twice);
                __m256d y = _mm256_sub_pd(_mm256_add_pd(_mm256_loadu_pd(s + i + h), _mm256_loadu_pd(n + i + h)), twice);
                _mm256_stream_pd(out + i + h, _mm256_add_pd(here, _mm256_add_pd(_mm256_mul_pd(rx, x), _mm256_mul_pd(ry, y))));
            }
        }
    }
    _mm_sfence();
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s THREADS [PREFETCH] [ROUNDS]\n", argv[0]); return 64; }
    int threads = atoi(argv[1]), rounds = argc > 3 ? atoi(argv[3]) : 6;
    long prefetch = argc > 2 ? atol(argv[2]) : 1024;
    omp_set_num_threads(threads);
    size_t total = (size_t)ROWS * STRIDE, copied = (size_t)N * STRIDE;
    double *u = field(total), *v = field(total);
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < ROWS; j++)
        for (size_t i = 0; i < STRIDE; i++) { u[j * STRIDE + i] = (double)(i + j) * 1e-6; v[j * STRIDE + i] = 0; }

    for (int round = 0; round < rounds; round++) {
        double seconds[COPIES];
        for (int r = 0; r < COPIES; r++) {
            double start = omp_get_wtime();
#pragma omp parallel
            {
                int t = omp_get_thread_num();
                size_t lo = copied / threads * t / 8 * 8, hi = t == threads - 1 ? copied : copied / threads * (t + 1) / 8 * 8;
                for (size_t i = lo; i < hi; i += 4) _mm256_stream_pd(v + i, _mm256_load_pd(u + i));
                _mm_sfence();
            }
            seconds[r] = omp_get_wtime() - start;
        }
        qsort(seconds, COPIES, sizeof(double), by_value);
        double gb_per_s = 2.0 * copied * sizeof(double) / seconds[COPIES / 2] / 1e9, bound = gb_per_s * 1e3 / 16;

        double start = omp_get_wtime();
        for (int sweep = 0; sweep < SWEEPS; sweep++) {
#pragma omp parallel
            {
                int t = omp_get_thread_num();
                sweep_rows(u, v, 1 + (size_t)N * t / threads, 1 + (size_t)N * (t + 1) / threads, prefetch);
            }
            double *swap = u; u = v; v = swap;
        }
        double mlups = (double)SWEEPS * N * N / (omp_get_wtime() - start) / 1e6;
        printf("threads %d  copy %.1f GB/s = bound %.0f MLUP/s  tuned C stencil %.0f MLUP/s  ratio %.2f\n",
               threads, gb_per_s, bound, mlups, mlups / bound);
    }
    return 0;
}
