/* The selection methods that select.c dispatches to. */
#ifndef SP_SELECT_METHODS_H
#define SP_SELECT_METHODS_H

#include <stdint.h>
#include "scriptprune/error.h"
#include "scriptprune/frame.h"
#include "scriptprune/qcsp.h"
#include "scriptprune/select.h"

/* ---- methods (select.c dispatches; each writes count ascending indices to idx) ---- */
sp_status sp_method_script(sp_workspace *ws, const sp_frame *f, const sp_query *q,
                           const sp_params *p, uint32_t *idx, sp_error *err);
sp_status sp_method_authors(sp_workspace *ws, const sp_frame *f, const sp_query *q,
                            const sp_params *p, uint32_t *idx, sp_error *err);
sp_status sp_method_random(sp_workspace *ws, const sp_frame *f, const sp_params *p, uint32_t *idx,
                           sp_error *err);
sp_status sp_method_divprune(sp_workspace *ws, const sp_frame *f, const sp_params *p, uint32_t *idx,
                             sp_error *err);
/* Merging methods also write count x d output tokens. */
sp_status sp_method_pool(sp_workspace *ws, const sp_frame *f, const sp_params *p, uint32_t *idx,
                         float *out, sp_error *err);
sp_status sp_method_tome(sp_workspace *ws, const sp_frame *f, const sp_params *p, uint32_t *idx,
                         float *out, sp_error *err);

#endif
