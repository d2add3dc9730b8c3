/* A plain C 5-point FTCS sweep: the reference our Swift kernel is measured
 * against (miniapp bench --c-reference). Same update, same memory layout
 * (row-major with a halo of one), double buffering, OpenMP threads over rows.
 * With "stream", the output is written with streaming (non-temporal) stores.
 * With "tuned", it is also what our kernel does beyond a plain loop: rows in
 * bands of four (each vector of columns loads the six rows' centres once for
 * four updates, and four rows stream in and out at once), the rows read from
 * memory prefetched 8 KiB ahead, full-width vectors (AVX-512 where
 * -march=native has it) on whole cache lines, and rows padded to whole cache
 * lines so that every output row is aligned (a hand-tuned C sweep: is our
 * kernel as fast as the same ideas in C?).
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

static void sweep_stream(const double *restrict u, double *restrict v, long n, long stride, double rx, double ry) {
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

#if defined(__AVX512F__)
typedef __m512d vec;
#define WIDTH 8
#define SET1 _mm512_set1_pd
#define LOAD _mm512_loadu_pd
#define ADD _mm512_add_pd
#define SUB _mm512_sub_pd
#define MUL _mm512_mul_pd
#define STREAM _mm512_stream_pd
#else
typedef __m256d vec;
#define WIDTH 4
#define SET1 _mm256_set1_pd
#define LOAD _mm256_loadu_pd
#define ADD _mm256_add_pd
#define SUB _mm256_sub_pd
#define MUL _mm256_mul_pd
#define STREAM _mm256_stream_pd
#endif
#define AHEAD 1024 /* doubles: 8 KiB */

static inline double point(const double *c, const double *s, const double *no, long i, double rx, double ry) {
    double here = c[i], twice = here + here;
    return here + rx * ((c[i - 1] + c[i + 1]) - twice) + ry * ((s[i] + no[i]) - twice);
}

static inline vec update(vec west, vec here, vec east, vec south, vec north, vec vrx, vec vry) {
    vec twice = ADD(here, here);
    return ADD(ADD(here, MUL(vrx, SUB(ADD(west, east), twice))), MUL(vry, SUB(ADD(south, north), twice)));
}

/* Rows first ... first + rows - 1 (rows <= 4), which share their alignment (padded stride). */
static void band_stream(const double *restrict u, double *restrict v, long first, long rows, long n, long stride,
                        double rx, double ry) {
    const double *r[6];
    double *o[4];
    for (int k = 0; k < 6; k++) r[k] = u + (first - 1 + (k <= rows + 1 ? k : rows + 1)) * stride;
    for (int k = 0; k < 4; k++) o[k] = v + (first + (k < rows ? k : rows - 1)) * stride;
    long i = 1;
    for (; i <= n && ((unsigned long)(o[0] + i) & 63); i++)
        for (int k = 0; k < rows; k++) o[k][i] = point(r[k + 1], r[k], r[k + 2], i, rx, ry);
    vec vrx = SET1(rx), vry = SET1(ry);
    if (rows == 4) {
        for (; i + WIDTH - 1 <= n; i += WIDTH) {
            for (int k = 2; k < 6; k++) _mm_prefetch((const char *)(r[k] + i + AHEAD), _MM_HINT_T0);
            vec c0 = LOAD(r[0] + i), c1 = LOAD(r[1] + i), c2 = LOAD(r[2] + i);
            vec c3 = LOAD(r[3] + i), c4 = LOAD(r[4] + i), c5 = LOAD(r[5] + i);
            STREAM(o[0] + i, update(LOAD(r[1] + i - 1), c1, LOAD(r[1] + i + 1), c0, c2, vrx, vry));
            STREAM(o[1] + i, update(LOAD(r[2] + i - 1), c2, LOAD(r[2] + i + 1), c1, c3, vrx, vry));
            STREAM(o[2] + i, update(LOAD(r[3] + i - 1), c3, LOAD(r[3] + i + 1), c2, c4, vrx, vry));
            STREAM(o[3] + i, update(LOAD(r[4] + i - 1), c4, LOAD(r[4] + i + 1), c3, c5, vrx, vry));
        }
    }
    for (; i <= n; i++)
        for (int k = 0; k < rows; k++) o[k][i] = point(r[k + 1], r[k], r[k + 2], i, rx, ry);
}

static void sweep_tuned(const double *restrict u, double *restrict v, long n, long stride, double rx, double ry) {
    long bands = (n + 3) / 4;
#pragma omp for schedule(static)
    for (long b = 0; b < bands; b++) {
        long first = 1 + 4 * b;
        band_stream(u, v, first, n - first + 1 < 4 ? n - first + 1 : 4, n, stride, rx, ry);
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
            if (tuned) sweep_tuned(u, v, n, stride, rx, ry);
            else if (streaming) sweep_stream(u, v, n, stride, rx, ry);
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
