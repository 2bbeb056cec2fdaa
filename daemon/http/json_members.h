/* Members of a JSON object under construction, for the JSON views (stream_json.c, job_json.c).
 * The builder must be inside an object. */
#ifndef SCRIPTD_JSON_MEMBERS_H
#define SCRIPTD_JSON_MEMBERS_H

#include <json-glib/json-glib.h>
#include <stdint.h>

static inline void scd_json_member_u64(JsonBuilder *b, const char *name, uint64_t v) {
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, (gint64)v);
}

static inline void scd_json_member_double(JsonBuilder *b, const char *name, double v) {
    json_builder_set_member_name(b, name);
    json_builder_add_double_value(b, v);
}

/* v NULL: a JSON null. */
static inline void scd_json_member_str(JsonBuilder *b, const char *name, const char *v) {
    json_builder_set_member_name(b, name);
    if (v)
        json_builder_add_string_value(b, v);
    else
        json_builder_add_null_value(b);
}

#endif
