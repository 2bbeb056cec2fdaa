/* A program built against the installed library alone, with `pkg-config --cflags --libs
 * scriptprune`: it selects 2 of the 4 tokens of a 2 x 2 frame and checks the selection is what
 * the public API documents (ascending indices, copies of the kept rows). */
#include <stdio.h>
#include <string.h>

#include "scriptprune/select.h"

int main(void) {
    const float tokens[4 * 2] = {1.0f, 0.0f, 0.99f, 0.1f, 0.0f, 1.0f, 0.1f, 0.99f};
    sp_frame f;
    sp_frame_view(&f, tokens, 4, 2);
    sp_params p;
    sp_params_init(&p);
    p.method = SP_METHOD_GSP;
    p.budget = 2;
    sp_error err;
    sp_error_clear(&err);
    sp_workspace *ws = sp_workspace_new();
    if (!ws) {
        fprintf(stderr, "sp_workspace_new: out of memory\n");
        return 1;
    }
    sp_selection sel;
    sp_selection_init(&sel);
    int failed = 0;
    if (sp_select(ws, &f, NULL, &p, &sel, &err) != SP_OK) {
        fprintf(stderr, "sp_select: %s\n", err.message);
        failed = 1;
    } else if (sel.count != 2 || sel.d != 2 || sel.index[0] >= sel.index[1] || sel.index[1] >= 4) {
        fprintf(stderr, "unexpected selection: count %zu, d %zu\n", sel.count, sel.d);
        failed = 1;
    } else {
        for (size_t i = 0; i < sel.count; i++)
            if (memcmp(sel.tokens + i * 2, tokens + sel.index[i] * 2, 2 * sizeof(float)) != 0) {
                fprintf(stderr, "output row %zu is not token %u\n", i, sel.index[i]);
                failed = 1;
            }
    }
    if (!failed)
        printf("selected tokens %u and %u (%s)\n", sel.index[0], sel.index[1],
               sp_status_name(SP_OK));
    sp_selection_free(&sel);
    sp_workspace_free(ws);
    return failed;
}
