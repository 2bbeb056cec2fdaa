/* scriptprune select: one frame of tokens in, the kept original indices out (and optionally the
 * kept tokens as safetensors). The interface is fixed: scripts rely on it (README, "CLI"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "scriptprune/safetensors.h"
#include "scriptprune/select.h"

static void select_usage(FILE *to) {
    fprintf(to, "usage: scriptprune select --tokens X.npy [--embeddings E.npy] [--query Q.npy]\n"
                "         --budget K [--method M] [--graph bipartite|full] [--tau T] [--seed S]\n"
                "         [--k-min N] [--gamma G] [--rho R] [--grid HxW] [--threads T]\n"
                "         [--out kept.safetensors]\n"
                "Prints the kept original token indices, ascending, on one line.\n"
                "Inputs: FILE.npy (float32/float16) or FILE.safetensors[:TENSOR].\n"
                "Selection parameters (core's parameter table):\n");
    cli_param_usage(to, SP_PARAM_IN_SELECT, SP_PARAM_BUDGET);
    fprintf(to, "Methods:\n");
    const sp_method_info *t = sp_method_table();
    for (int i = 0; i < SP_METHOD_COUNT; i++)
        fprintf(to, "  %-15s %s\n", t[i].name, t[i].summary);
}

typedef struct select_args {
    const char *tokens, *embeddings, *query, *out;
    bool have_budget, have_grid;
    uint32_t grid_h, grid_w;
    int threads;
    sp_params params;
} select_args;

static sp_status apply_option(void *args, int c, const char *arg, sp_error *err) {
    select_args *a = args;
    size_t v;
    sp_status st = SP_OK;
    const sp_param_info *pi = cli_param_of_option(c);
    if (pi && pi->id == SP_PARAM_SEED) /* exact: a double holds 53 bits */
        return cli_parse_u64(arg, "--seed", &a->params.seed, err);
    if (pi) {
        double value;
        st = cli_param_parse(pi, arg, &value, err);
        if (!st)
            st = sp_params_set(&a->params, pi->id, value, err);
        if (pi->id == SP_PARAM_BUDGET)
            a->have_budget = true;
        return st;
    }
    switch (c) {
        case 't':
            a->tokens = arg;
            break;
        case 'e':
            a->embeddings = arg;
            break;
        case 'q':
            a->query = arg;
            break;
        case 'o':
            a->out = arg;
            break;
        case 'x':
            st = cli_parse_grid(arg, &a->grid_h, &a->grid_w, err);
            a->have_grid = true;
            break;
        case 'j':
            st = cli_parse_size(arg, "--threads", 1, 256, &v, err);
            a->threads = (int)v;
            break;
        default: /* an entry of the table below without a case here */
            st = sp_error_set(err, SP_ERR_STATE, "option %d has no handler", c);
    }
    return st;
}

static sp_status finish_args(void *args, sp_error *err) {
    const select_args *a = args;
    sp_status st = cli_require(a->tokens != NULL, "--tokens", err);
    if (!st)
        st = cli_require(a->have_budget, "--budget", err);
    return st;
}

/* The command's own options; the selection parameters are appended from core's table. */
static const struct option select_own_options[] = {
    {"tokens", required_argument, 0, 't'},  {"embeddings", required_argument, 0, 'e'},
    {"query", required_argument, 0, 'q'},   {"grid", required_argument, 0, 'x'},
    {"threads", required_argument, 0, 'j'}, {"out", required_argument, 0, 'o'},
    {"help", no_argument, 0, CLI_OPT_HELP}, {0, 0, 0, 0},
};

static sp_status write_out(const char *path, const sp_frame *f, const sp_selection *sel,
                           const sp_params *p, sp_error *err) {
    sp_st_writer *w = sp_st_writer_new();
    int64_t *idx = malloc((sel->count ? sel->count : 1) * sizeof(int64_t));
    int16_t *yx = malloc((sel->count ? sel->count : 1) * 2 * sizeof(int16_t));
    sp_status st = SP_OK;
    if (!w || !idx || !yx)
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory preparing %s", path);
    for (size_t i = 0; !st && i < sel->count; i++) {
        idx[i] = sel->index[i];
        uint32_t y = sel->index[i] / f->grid_w, x = sel->index[i] % f->grid_w;
        if (y > INT16_MAX || x > INT16_MAX)
            st = sp_error_set(err, SP_ERR_OVERFLOW,
                              "grid position (%u, %u) does not fit the int16 yx tensor", y, x);
        yx[2 * i] = (int16_t)y;
        yx[2 * i + 1] = (int16_t)x;
    }
    size_t tshape[2] = {sel->count, sel->d}, ishape[1] = {sel->count}, yshape[2] = {sel->count, 2};
    if (!st)
        st = sp_st_writer_add(w, "tokens", SP_DTYPE_F32, 2, tshape, sel->tokens, err);
    if (!st)
        st = sp_st_writer_add(w, "index", SP_DTYPE_I64, 1, ishape, idx, err);
    if (!st)
        st = sp_st_writer_add(w, "yx", SP_DTYPE_I16, 2, yshape, yx, err);
    char buf[64];
    if (!st)
        st = sp_st_writer_metadata(w, "method", sp_method_info_of(p->method)->name, err);
    snprintf(buf, sizeof buf, "%zu", p->budget);
    if (!st)
        st = sp_st_writer_metadata(w, "budget", buf, err);
    snprintf(buf, sizeof buf, "%ux%u", f->grid_h, f->grid_w);
    if (!st)
        st = sp_st_writer_metadata(w, "grid", buf, err);
    snprintf(buf, sizeof buf, "%zu", f->n);
    if (!st)
        st = sp_st_writer_metadata(w, "tokens_in", buf, err);
    if (!st)
        st = sp_st_writer_write_file(w, path, err);
    sp_st_writer_free(w);
    free(idx);
    free(yx);
    return st;
}

int cli_cmd_select(int argc, char **argv) {
    select_args a = {0};
    sp_params_init(&a.params);
    int rc;
    cli_param_options opts;
    cli_param_options_init(&opts, SP_PARAM_IN_SELECT, select_own_options);
    const cli_options select_options = {
        .command = "select",
        .table = opts.table,
        .apply = apply_option,
        .finish = finish_args,
        .usage = select_usage,
    };
    if (!cli_parse_command_line(argc, argv, &select_options, &a, &rc))
        return rc;
    sp_error err;
    sp_error_clear(&err);
    if (a.threads)
        sp_blas_set_threads(a.threads);
    sp_matrix tokens = {0}, embed = {0}, query = {0};
    sp_selection sel;
    sp_selection_init(&sel);
    sp_workspace *ws = NULL;
    sp_status st = cli_load_matrix(a.tokens, &tokens, &err);
    if (st)
        sp_error_prefix(&err, "--tokens %s", a.tokens);
    if (!st && a.embeddings && (st = cli_load_matrix(a.embeddings, &embed, &err)))
        sp_error_prefix(&err, "--embeddings %s", a.embeddings);
    if (!st && a.query && (st = cli_load_matrix(a.query, &query, &err)))
        sp_error_prefix(&err, "--query %s", a.query);
    /* Tokens and embeddings are N x D matrices; a query may be one row (1-D) or M x E, M >= 0. */
    if (!st && tokens.ndim != 2)
        st =
            sp_error_set(&err, SP_ERR_INVALID,
                         "--tokens %s is a 1-D array of %zu values; tokens must be an N x D matrix "
                         "(reshape to (1, %zu) for a single token)",
                         a.tokens, tokens.cols, tokens.cols);
    if (!st && a.embeddings && embed.ndim != 2)
        st = sp_error_set(&err, SP_ERR_INVALID,
                          "--embeddings %s is a 1-D array; embeddings must be an N x E matrix",
                          a.embeddings);
    sp_frame f;
    if (!st) {
        sp_frame_view(&f, tokens.data, tokens.rows, tokens.cols);
        if (a.have_grid) {
            f.grid_h = a.grid_h;
            f.grid_w = a.grid_w;
        }
        if (a.embeddings) {
            if (embed.rows != tokens.rows)
                st = sp_error_set(&err, SP_ERR_INVALID,
                                  "--embeddings %s has %zu rows but --tokens has %zu", a.embeddings,
                                  embed.rows, tokens.rows);
            f.embed = embed.data;
            f.e = embed.cols;
        }
    }
    sp_query q = {.rows = query.data, .m = query.rows, .e = query.cols};
    if (!st && !(ws = sp_workspace_new()))
        st = sp_error_set(&err, SP_ERR_NOMEM, "out of memory creating the workspace");
    if (!st)
        st = sp_select(ws, &f, a.query ? &q : NULL, &a.params, &sel, &err);
    if (!st && a.out && (st = write_out(a.out, &f, &sel, &a.params, &err)))
        sp_error_prefix(&err, "--out %s", a.out);
    rc = CLI_OK;
    if (st) {
        rc = cli_fail(cli_status_exit(st), "select: %s", err.message);
    } else {
        for (size_t i = 0; i < sel.count; i++)
            printf(i ? " %u" : "%u", sel.index[i]);
        printf("\n");
        if (fflush(stdout) != 0)
            rc = cli_fail(CLI_FAIL, "select: writing the indices to stdout failed");
    }
    sp_selection_free(&sel);
    sp_workspace_free(ws);
    sp_matrix_free(&tokens);
    sp_matrix_free(&embed);
    sp_matrix_free(&query);
    return rc;
}
