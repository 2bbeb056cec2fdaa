/* Internal helpers of the parameter table (params_fields.c) for core's own validators. */
#ifndef SP_PARAMS_INTERNAL_H
#define SP_PARAMS_INTERNAL_H

#include <stddef.h>

#include "scriptprune/params.h"

/* How validation messages name a parameter: its table name, followed by the struct field's name
 * when that differs ("temporal_tau (field tau_t)"), written into buf when needed. */
const char *sp_stream_param_label(sp_param_id id, char *buf, size_t cap);
const char *sp_select_param_label(sp_param_id id, char *buf, size_t cap);

#endif
