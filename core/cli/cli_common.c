#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "scriptprune/safetensors.h"

int cli_fail(int status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One line, always: scripts parse stderr line by line. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "scriptprune: error: %s\n", msg);
    return status;
}

int cli_status_exit(sp_status st) {
    switch (st) {
        case SP_OK:
            return CLI_OK;
        case SP_ERR_INVALID:
        case SP_ERR_FORMAT:
        case SP_ERR_UNSUPPORTED:
        case SP_ERR_OVERFLOW:
        case SP_ERR_NOT_FOUND:
            return CLI_BAD_INPUT;
        case SP_ERR_IO:
            /* A file that cannot be opened is bad input too; errors writing output are not, but
             * the message says which. */
            return CLI_BAD_INPUT;
        default:
            return CLI_FAIL;
    }
}

/* getopt_long over the command's table; the first problem stops the parse. */
static sp_status parse_options(int argc, char **argv, const cli_options *o, void *args, bool *help,
                               sp_error *err) {
    opterr = 0; /* the message below replaces getopt's own */
    optind = 1;
    int c;
    sp_status st = SP_OK;
    while (!st && (c = getopt_long(argc, argv, "", o->table, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            *help = true;
            return SP_OK;
        }
        if (c == '?')
            st = sp_error_set(err, SP_ERR_INVALID, "unknown or incomplete option '%s'",
                              argv[optind - 1]);
        else
            st = o->apply(args, c, optarg, err);
    }
    if (!st && optind < argc)
        st = sp_error_set(err, SP_ERR_INVALID, "unexpected argument '%s'", argv[optind]);
    if (!st && o->finish)
        st = o->finish(args, err);
    return st;
}

bool cli_parse_command_line(int argc, char **argv, const cli_options *o, void *args,
                            int *exit_status) {
    sp_error err;
    sp_error_clear(&err);
    bool help = false;
    sp_status st = parse_options(argc, argv, o, args, &help, &err);
    if (help) {
        o->usage(stdout);
        *exit_status = CLI_OK;
        return false;
    }
    if (st) {
        *exit_status = cli_fail(CLI_BAD_INPUT, "%s: %s (see scriptprune %s --help)", o->command,
                                err.message, o->command);
        return false;
    }
    return true;
}

sp_status cli_require(bool present, const char *option, sp_error *err) {
    return present ? SP_OK : sp_error_set(err, SP_ERR_INVALID, "%s is required", option);
}

sp_status cli_parse_size(const char *s, const char *what, size_t lo, size_t hi, size_t *out,
                         sp_error *err) {
    if (!s || !*s || *s == '-' || *s == '+')
        return sp_error_set(err, SP_ERR_INVALID, "%s: expected a whole number, got '%s'", what,
                            s ? s : "");
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno == ERANGE)
        return sp_error_set(err, SP_ERR_INVALID, "%s: expected a whole number, got '%s'", what, s);
    if (v < lo || v > hi)
        return sp_error_set(err, SP_ERR_INVALID, "%s: %llu is outside [%zu, %zu]", what, v, lo, hi);
    *out = (size_t)v;
    return SP_OK;
}

sp_status cli_parse_u64(const char *s, const char *what, uint64_t *out, sp_error *err) {
    if (!s || !*s || *s == '-' || *s == '+')
        return sp_error_set(err, SP_ERR_INVALID, "%s: expected a whole number, got '%s'", what,
                            s ? s : "");
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end || errno == ERANGE)
        return sp_error_set(err, SP_ERR_INVALID, "%s: expected a whole number, got '%s'", what, s);
    *out = v;
    return SP_OK;
}

sp_status cli_parse_float(const char *s, const char *what, double lo, double hi, float *out,
                          sp_error *err) {
    if (!s || !*s)
        return sp_error_set(err, SP_ERR_INVALID, "%s: expected a number, got ''", what);
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v))
        return sp_error_set(err, SP_ERR_INVALID, "%s: expected a number, got '%s'", what, s);
    if (v < lo || v > hi)
        return sp_error_set(err, SP_ERR_INVALID, "%s: %g is outside [%g, %g]", what, v, lo, hi);
    *out = (float)v;
    return SP_OK;
}

sp_status cli_parse_grid(const char *s, uint32_t *h, uint32_t *w, sp_error *err) {
    const char *x = s ? strchr(s, 'x') : NULL;
    if (!x)
        return sp_error_set(err, SP_ERR_INVALID, "--grid: expected HxW (e.g. 24x24), got '%s'",
                            s ? s : "");
    char hs[32];
    size_t hl = (size_t)(x - s);
    if (hl == 0 || hl >= sizeof hs)
        return sp_error_set(err, SP_ERR_INVALID, "--grid: expected HxW (e.g. 24x24), got '%s'", s);
    memcpy(hs, s, hl);
    hs[hl] = '\0';
    size_t hv, wv;
    sp_status st = cli_parse_size(hs, "--grid height", 1, UINT32_MAX, &hv, err);
    if (!st)
        st = cli_parse_size(x + 1, "--grid width", 1, UINT32_MAX, &wv, err);
    if (st)
        return st;
    *h = (uint32_t)hv;
    *w = (uint32_t)wv;
    return SP_OK;
}

static bool ends_with(const char *s, size_t len, const char *suffix) {
    size_t sl = strlen(suffix);
    return len >= sl && memcmp(s + len - sl, suffix, sl) == 0;
}

static sp_status load_safetensors(const char *path, const char *name, sp_matrix *out,
                                  sp_error *err) {
    sp_st_file *f = NULL;
    sp_status st = sp_st_open(path, &f, err);
    if (st)
        return st;
    const sp_st_tensor *t = NULL;
    if (name)
        st = sp_st_get(f, name, &t, err);
    else if (sp_st_count(f) == 1)
        t = sp_st_at(f, 0);
    else
        st = sp_error_set(err, SP_ERR_INVALID, "%s holds %zu tensors: name one as %s:TENSOR", path,
                          sp_st_count(f), path);
    if (!st && (t->ndim < 1 || t->ndim > 2))
        st = sp_error_set(err, SP_ERR_UNSUPPORTED,
                          "%s: tensor '%s' has %zu dimensions; expected a matrix (N x D) or a "
                          "vector",
                          path, t->name, t->ndim);
    size_t cols = st ? 0 : t->ndim == 2 ? t->shape[1] : t->shape[0];
    if (!st && cols == 0)
        st =
            sp_error_set(err, SP_ERR_INVALID, "%s: tensor '%s' has zero-width rows", path, t->name);
    float *data = NULL;
    size_t count = 0;
    if (!st && t->elements > 0)
        st = sp_st_read_f32(t, &data, &count, err);
    if (!st) {
        out->data = data;
        out->rows = t->ndim == 2 ? t->shape[0] : 1;
        out->cols = cols;
        out->ndim = (int)t->ndim;
    }
    sp_st_close(f);
    return st;
}

sp_status cli_load_matrix(const char *spec, sp_matrix *out, sp_error *err) {
    memset(out, 0, sizeof *out);
    size_t len = strlen(spec);
    if (ends_with(spec, len, ".npy"))
        return sp_npy_read(spec, out, err);
    if (ends_with(spec, len, ".safetensors"))
        return load_safetensors(spec, NULL, out, err);
    const char *colon = strstr(spec, ".safetensors:");
    if (colon) {
        size_t plen = (size_t)(colon - spec) + strlen(".safetensors");
        char *path = malloc(plen + 1);
        if (!path)
            return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        memcpy(path, spec, plen);
        path[plen] = '\0';
        sp_status st = load_safetensors(path, spec + plen + 1, out, err);
        free(path);
        return st;
    }
    return sp_error_set(err, SP_ERR_INVALID,
                        "'%s': expected a .npy file or FILE.safetensors[:TENSOR]", spec);
}

/* The "positions" member of a packet line; last_pts/seen are null when the file lacks them. */
void cli_print_positions(const sp_token_info *info, size_t n, bool have_span) {
    printf(",\"positions\":[");
    for (size_t i = 0; i < n; i++) {
        const sp_token_info *t = &info[i];
        printf("%s[%" PRId64 ",", i ? "," : "", t->pts);
        if (have_span)
            printf("%" PRId64 ",%" PRIu32, t->last_pts, t->seen);
        else
            printf("null,null");
        printf(",%" PRIu64 ",%u,%u]", t->frame, t->y, t->x);
    }
    printf("]");
}

/* Tokens of a packet seen in its span [pts_first, ...]: all of them in a snapshot packet. */
size_t cli_count_current(const sp_token_info *info, size_t n, int64_t pts_first) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += info[i].last_pts >= pts_first;
    return c;
}
