/* Command-line options made from core's parameter table: one --dashed-name option per parameter
 * of a scope, parsed, range-checked and documented (with its default) by the table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* "temporal_tau" -> "temporal-tau" into buf. */
static void dashed(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", name);
    for (char *p = buf; *p; p++)
        if (*p == '_')
            *p = '-';
}

void cli_param_options_init(cli_param_options *o, unsigned scope, const struct option *fixed) {
    memset(o, 0, sizeof *o);
    size_t n = 0;
    for (; fixed && fixed[n].name; n++)
        o->table[n] = fixed[n];
    size_t count;
    const sp_param_info *t = sp_param_table(&count);
    for (size_t i = 0; i < count && n + 1 < CLI_MAX_OPTIONS; i++) {
        if (!(t[i].scope & scope))
            continue;
        dashed(t[i].name, o->names[t[i].id], sizeof o->names[t[i].id]);
        o->table[n++] =
            (struct option){o->names[t[i].id],
                            t[i].type == SP_PARAM_TYPE_BOOL ? optional_argument : required_argument,
                            0, CLI_OPT_PARAM + (int)t[i].id};
    }
    o->table[n] = (struct option){0, 0, 0, 0};
}

const sp_param_info *cli_param_of_option(int c) {
    return c >= CLI_OPT_PARAM ? sp_param_of((sp_param_id)(c - CLI_OPT_PARAM)) : NULL;
}

sp_status cli_param_parse(const sp_param_info *pi, const char *arg, double *out, sp_error *err) {
    char what[48] = "--";
    dashed(pi->name, what + 2, sizeof what - 2);
    /* A flag given without a value turns it on: --match-all. */
    if (!arg && pi->type == SP_PARAM_TYPE_BOOL)
        arg = "true";
    return sp_param_parse(pi, arg, what, out, err);
}

void cli_param_usage(FILE *to, unsigned scope, sp_param_id required) {
    size_t count;
    const sp_param_info *t = sp_param_table(&count);
    for (size_t i = 0; i < count; i++) {
        if (!(t[i].scope & scope))
            continue;
        char opt[48], def[64], lo[64], hi[64];
        dashed(t[i].name, opt, sizeof opt);
        sp_param_format(&t[i], t[i].def, def, sizeof def);
        fprintf(to, "  --%s\n      %s (", opt, t[i].doc);
        if (t[i].id == required)
            fprintf(to, "required");
        else
            fprintf(to, "default %s", def);
        if (t[i].type == SP_PARAM_TYPE_ENUM) {
            fprintf(to, "; one of");
            for (size_t k = 0; t[i].choices[k]; k++)
                fprintf(to, "%s %s", k ? "," : "", t[i].choices[k]);
        } else if (t[i].type != SP_PARAM_TYPE_METHOD && t[i].type != SP_PARAM_TYPE_BOOL) {
            sp_param_format(&t[i], t[i].min, lo, sizeof lo);
            sp_param_format(&t[i], t[i].max, hi, sizeof hi);
            fprintf(to, "; %s%s, %s]", t[i].min_exclusive ? "(" : "[", lo, hi);
        }
        fprintf(to, ")\n");
    }
}

void cli_warn_deprecated(const char *old_option, const char *new_option) {
    fprintf(stderr, "scriptprune: warning: %s is deprecated: use %s\n", old_option, new_option);
}
