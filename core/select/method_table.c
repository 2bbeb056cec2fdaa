/* The table of selection methods: names, one-line docs and what each needs (scriptprune/select.h).
 * Pure data, apart from sp_select: the parameter table parses method names through it, and
 * sp_select dispatches on the same ids. */
#include <stdio.h>
#include <string.h>

#include "scriptprune/select.h"

static const sp_method_info method_table[SP_METHOD_COUNT] = {
    {SP_METHOD_SCRIPT, "script",
     "GSP keeps max(k, rho*N) candidates, then the query DPP picks k of them (default)", false,
     true},
    {SP_METHOD_SCRIPT_AUTHORS, "script-authors",
     "the published code's output: full graph, negated relevance, equals its DPP picks", false,
     true},
    {SP_METHOD_GSP, "gsp", "graph-structured pruning alone: drop visually redundant tokens to k",
     false, false},
    {SP_METHOD_QCSP, "qcsp", "query-conditioned DPP alone: k relevant and diverse tokens", false,
     true},
    {SP_METHOD_RANDOM, "random", "k tokens uniformly at random (seeded)", false, false},
    {SP_METHOD_POOL, "pool", "uniform grid pooling into k cells (averaged tokens)", true, false},
    {SP_METHOD_DIVPRUNE, "divprune", "greedy max-min cosine diversity (DivPrune)", false, false},
    {SP_METHOD_TOME, "tome", "bipartite soft matching, size-weighted merging (ToMe)", true, false},
};

const sp_method_info *sp_method_table(void) {
    return method_table;
}

const sp_method_info *sp_method_info_of(sp_method m) {
    return (unsigned)m < SP_METHOD_COUNT ? &method_table[m] : NULL;
}

sp_status sp_method_from_name(const char *name, sp_method *out, sp_error *err) {
    for (int i = 0; i < SP_METHOD_COUNT; i++)
        if (name && strcmp(name, method_table[i].name) == 0) {
            *out = method_table[i].id;
            return SP_OK;
        }
    char list[256] = "";
    size_t len = 0;
    for (int i = 0; i < SP_METHOD_COUNT && len < sizeof list; i++) {
        int w =
            snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", method_table[i].name);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return sp_error_set(err, SP_ERR_INVALID, "unknown method '%s' (expected one of: %s)",
                        name ? name : "(null)", list);
}
