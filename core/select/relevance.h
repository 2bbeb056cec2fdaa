/* Relevance of tokens to a query: ours on prepared rows, and the published code's (relevance.c). */
#ifndef SP_SELECT_RELEVANCE_H
#define SP_SELECT_RELEVANCE_H

#include <stddef.h>
#include "scriptprune/error.h"
#include "scriptprune/qcsp.h"
#include "similarity.h"

/* Relevance (ours) of prepared rows. */
sp_status sp_relevance_rows(sp_workspace *ws, const sp_rows *e, const sp_query *q, float *r,
                            sp_error *err);

/* ---- relevance as the published code computes it (authors.c uses it) ---- */
sp_status sp_relevance_authors(sp_workspace *ws, const float *e, size_t n, size_t width,
                               const sp_query *q, float *r, sp_error *err);

#endif
