/* A plain C 5-point FTCS sweep: the reference our Swift kernel is measured
 * against (miniapp bench --c-reference). Same update, same memory layout
 * (row-major with a halo of one), double buffering, OpenMP threads over rows.
 * With "stream", the output is written with streaming (non-temporal) stores.
 * With "tuned", it is also what our kernel does beyond a plain loop: the row
 * read from memory prefetched 8 KiB ahead (once per cache line) and rows
 * padded to whole cache lines, so that every output row is aligned (a
 * hand-tuned C sweep: is our kernel as fast as the same ideas in C?).
 *
 *   stencil_reference N STEPS [THREADS] [stream|tuned]   prints MLUP/s and a checksum (JSON)
 */
#include <immintrin.h>
#include <omp.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <sys/mman.h>

static void sweep(const double *restrict u, double *restrict v, long n, long stride, double rx, double ry) {
#pragma omp for schedule(static)
    for (long j = 1; j <= n; j++) {
        const double *c = u + j * stride, *s = c - stride, *no = c + stride;
        double *out = v + j * stride;
        for (long i = 1; i <= n; i++) {
            double here = c[i], twice = here + here;
            out[i] = here + rx * ((c[i - 1] + c[i + 1]) - twice) + ry * ((s[i] + no[i]) - twice);
        }
    }
}

static void sweep_stream(const double *restrict u, double *restrict v, long n, long stride, double rx, double ry,
                         long prefetch) {
#pragma omp for schedule(static)
    for (long j = 1; j <= n; j++) {
        const double *c = u + j * stride, *s = c - stride, *no = c + stride;
        double *out = v + j * stride;
        long i = 1;
        for (; i <= n && ((unsigned long)(out + i) & 31); i++) {
            double here = c[i], twice = here + here;
            out[i] = here + rx * ((c[i - 1] + c[i + 1]) - twice) + ry * ((s[i] + no[i]) - twice);
        }
        __m256d vrx = _mm256_set1_pd(rx), vry = _mm256_set1_pd(ry);
        for (; i + 3 <= n; i += 4) {
            if (prefetch && !(((unsigned long)(out + i)) & 63)) _mm_prefetch((const char *)(no + i + prefetch), _MM_HINT_T0);
            __m256d here = _mm256_loadu_pd(c + i), twice = _mm256_add_pd(here, here);
            __m256d we = _mm256_add_pd(_mm256_loadu_pd(c + i - 1), _mm256_loadu_pd(c + i + 1));
            __m256d sn = _mm256_add_pd(_mm256_loadu_pd(s + i), _mm256_loadu_pd(no + i));
            __m256d r = _mm256_add_pd(_mm256_add_pd(here, _mm256_mul_pd(vrx, _mm256_sub_pd(we, twice))),
                                      _mm256_mul_pd(vry, _mm256_sub_pd(sn, twice)));
            _mm256_stream_pd(out + i, r);
        }
        for (; i <= n; i++) {
            double here = c[i], twice = here + here;
            out[i] = here + rx * ((c[i - 1] + c[i + 1]) - twice) + ry * ((s[i] + no[i]) - twice);
        }
    }
    _mm_sfence();
}

/* 64-byte aligned; tuned: in transparent huge pages, as our fields are. */
static double *allocate(long count, int huge) {
    void *p = NULL;
    if (posix_memalign(&p, huge ? 1 << 21 : 64, sizeof(double) * count) != 0) { perror("posix_memalign"); exit(1); }
    if (huge) madvise(p, sizeof(double) * count, MADV_HUGEPAGE);
    return p;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s N STEPS [THREADS]\n", argv[0]); return 64; }
    long n = atol(argv[1]), steps = atol(argv[2]);
    if (argc > 3) omp_set_num_threads(atoi(argv[3]));
    int tuned = argc > 4 && strcmp(argv[4], "tuned") == 0;
    int streaming = tuned || (argc > 4 && strcmp(argv[4], "stream") == 0);
    long rows = n + 2, stride = tuned ? (n + 2 + 7) / 8 * 8 : n + 2;
    double *u = allocate(stride * rows, tuned), *v = allocate(stride * rows, tuned);
    double h = 1.0 / (n + 1), rx = 0.225, ry = 0.225;
#pragma omp parallel for schedule(static)
    for (long j = 0; j < rows; j++)   /* first touch by the computing thread */
        for (long i = 0; i < stride; i++) {
            int inside = i > 0 && i <= n && j > 0 && j <= n;
            u[j * stride + i] = inside ? sin(M_PI * i * h) * sin(M_PI * j * h) : 0.0;
            v[j * stride + i] = 0.0;
        }
    double best = 1e30, total = 0;
    for (long s = 0; s < steps; s++) {
        double t0 = omp_get_wtime();
#pragma omp parallel
        {
            if (streaming) sweep_stream(u, v, n, stride, rx, ry, tuned ? 1024 : 0);
            else sweep(u, v, n, stride, rx, ry);
        }
        double t = omp_get_wtime() - t0;
        total += t;
        if (t < best) best = t;
        double *w = u; u = v; v = w;
    }
    double checksum = 0;
    for (long k = 0; k < stride * rows; k++) checksum += u[k];
    printf("{\"n\": %ld, \"steps\": %ld, \"streaming\": %d, \"tuned\": %d, \"threads\": %d, \"mlups_mean\": %.1f, \"mlups_best\": %.1f, \"checksum\": %.17g}\n",
           n, steps, streaming, tuned, omp_get_max_threads(), (double)n * n * steps / total / 1e6, (double)n * n / best / 1e6, checksum);
    free(u); free(v);
    return 0;
}
