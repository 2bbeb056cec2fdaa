/* bench-select: median time of one selection against one full N x N x D SSYRK on the same data, in
 * the same process (the "GEMM floor"). Prints one JSON line. */
#include <cblas.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "scriptprune/select.h"

static void usage(void) {
    fprintf(stderr, "usage: bench-select --n N --d D --k K --method M [--threads T] [--reps R]\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"n", required_argument, 0, 'n'},       {"d", required_argument, 0, 'd'},
        {"k", required_argument, 0, 'k'},       {"method", required_argument, 0, 'm'},
        {"threads", required_argument, 0, 't'}, {"reps", required_argument, 0, 'r'},
        {"query", required_argument, 0, 'q'},   {0, 0, 0, 0},
    };
    size_t n = 576, d = 1024, k = 64, reps = 15, m = 0;
    int threads = 2;
    const char *method = "script";
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'n':
                n = strtoul(optarg, NULL, 10);
                break;
            case 'd':
                d = strtoul(optarg, NULL, 10);
                break;
            case 'k':
                k = strtoul(optarg, NULL, 10);
                break;
            case 'm':
                method = optarg;
                break;
            case 't':
                threads = atoi(optarg);
                break;
            case 'r':
                reps = strtoul(optarg, NULL, 10);
                break;
            case 'q':
                m = strtoul(optarg, NULL, 10);
                break;
            default:
                usage();
                return 2;
        }
    }
    if (n == 0 || d == 0 || k == 0 || reps == 0 || threads < 1) {
        usage();
        return 2;
    }
    sp_error err;
    sp_params p;
    sp_params_init(&p);
    p.budget = k;
    if (sp_method_from_name(method, &p.method, &err)) {
        fprintf(stderr, "bench-select: %s\n", err.message);
        return 2;
    }
    sp_blas_set_threads(threads);
    float *x = bench_tokens(n, d, 48, 1);
    float *qrows = m ? bench_tokens(m, d, 2, 2) : NULL;
    float *gram = malloc(n * n * sizeof(float));
    double *t_sel = malloc(reps * sizeof(double)), *t_syrk = malloc(reps * sizeof(double));
    sp_workspace *ws = sp_workspace_new();
    sp_selection sel;
    sp_selection_init(&sel);
    if (!x || !gram || !t_sel || !t_syrk || !ws || (m && !qrows)) {
        fprintf(stderr, "bench-select: out of memory\n");
        return 1;
    }
    sp_frame f;
    sp_frame_view(&f, x, n, d);
    sp_query q = {.rows = qrows, .m = m, .e = d};
    /* Warm-up: first-touch page faults and BLAS thread start-up are not what we measure. */
    if (sp_select(ws, &f, &q, &p, &sel, &err)) {
        fprintf(stderr, "bench-select: %s\n", err.message);
        return 1;
    }
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)d, 1.0f, x, (int)d, 0.0f,
                gram, (int)n);
    for (size_t r = 0; r < reps; r++) {
        double t0 = bench_now_ms();
        sp_select(ws, &f, &q, &p, &sel, &err);
        double t1 = bench_now_ms();
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)d, 1.0f, x, (int)d, 0.0f,
                    gram, (int)n);
        double t2 = bench_now_ms();
        t_sel[r] = t1 - t0;
        t_syrk[r] = t2 - t1;
    }
    double med = bench_median(t_sel, reps), syrk = bench_median(t_syrk, reps);
    printf("{\"bench\":\"select\",\"method\":\"%s\",\"n\":%zu,\"d\":%zu,\"k\":%zu,\"m\":%zu,"
           "\"threads\":%d,\"reps\":%zu,\"median_ms\":%.4f,\"min_ms\":%.4f,\"ssyrk_ms\":%.4f,"
           "\"ratio\":%.4f,\"kept\":%zu}\n",
           method, n, d, k, m, threads, reps, med, t_sel[0], syrk, med / syrk, sel.count);
    sp_selection_free(&sel);
    sp_workspace_free(ws);
    free(x);
    free(qrows);
    free(gram);
    free(t_sel);
    free(t_syrk);
    return 0;
}
