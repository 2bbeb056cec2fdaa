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

/* Relevance for streams (docs/streams.md, "Queries"): a token is as relevant as it resembles its
 * closest query row, min-max normalised over the n tokens, then squared:
 * r_i = ((max_j cos(e_i, q_j) - lo) / (hi - lo))^2. The rows of an exemplar are its parts (one
 * token each) and a token of the object resembles one part, not their mean; a long question's
 * segments are its parts too. Squaring spends less of the budget on the middling background
 * (bench/quality/real_textures.py). One row: the cosine ranking of Script, squared. */
sp_status sp_relevance_any_row(sp_workspace *ws, const float *e, size_t n, size_t width,
                               const sp_query *q, float *r, sp_error *err);

/* ---- relevance as the published code computes it (authors.c uses it) ---- */
sp_status sp_relevance_authors(sp_workspace *ws, const float *e, size_t n, size_t width,
                               const sp_query *q, float *r, sp_error *err);

#endif
