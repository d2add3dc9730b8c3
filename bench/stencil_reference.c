/* A plain C 5-point FTCS sweep: the reference our Swift kernel is measured
 * against (scripts/bench). Same update, same memory layout (row-major with a
 * halo of one), double buffering, OpenMP threads over rows.
 *
 *   stencil_reference N STEPS [THREADS]   prints MLUP/s and a checksum
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>

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

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s N STEPS [THREADS]\n", argv[0]); return 64; }
    long n = atol(argv[1]), steps = atol(argv[2]);
    if (argc > 3) omp_set_num_threads(atoi(argv[3]));
    long stride = n + 2;
    double *u = aligned_alloc(64, sizeof(double) * stride * stride);
    double *v = aligned_alloc(64, sizeof(double) * stride * stride);
    double h = 1.0 / (n + 1), rx = 0.225, ry = 0.225;
#pragma omp parallel for schedule(static)
    for (long j = 0; j < stride; j++)   /* first touch by the computing thread */
        for (long i = 0; i < stride; i++) {
            int inside = i > 0 && i <= n && j > 0 && j <= n;
            u[j * stride + i] = inside ? sin(M_PI * i * h) * sin(M_PI * j * h) : 0.0;
            v[j * stride + i] = 0.0;
        }
    double best = 1e30, total = 0;
    for (long s = 0; s < steps; s++) {
        double t0 = omp_get_wtime();
#pragma omp parallel
        sweep(u, v, n, stride, rx, ry);
        double t = omp_get_wtime() - t0;
        total += t;
        if (t < best) best = t;
        double *w = u; u = v; v = w;
    }
    double checksum = 0;
    for (long k = 0; k < stride * stride; k++) checksum += u[k];
    printf("{\"n\": %ld, \"steps\": %ld, \"threads\": %d, \"mlups_mean\": %.1f, \"mlups_best\": %.1f, \"checksum\": %.17g}\n",
           n, steps, omp_get_max_threads(), (double)n * n * steps / total / 1e6, (double)n * n / best / 1e6, checksum);
    free(u); free(v);
    return 0;
}
