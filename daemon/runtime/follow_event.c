/* Follow event records (follow_event.h). */
#include "runtime/follow_event.h"

#include <string.h>
#include <zlib.h>

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The wire format's CRC-32 is zlib's. */
static uint32_t crc_of(const uint8_t *p, size_t n) {
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

static const char *const kind_names[] = {[SCD_FOLLOW_EVENT_WATCH] = "watch"};

sp_status scd_follow_event_encode(scd_follow_event_kind kind, const char *json, size_t len,
                                  GBytes **out, sp_error *err) {
    *out = NULL;
    if ((unsigned)kind >= G_N_ELEMENTS(kind_names) || !kind_names[kind])
        return sp_error_set(err, SP_ERR_INVALID, "follow event: unknown kind %u", (unsigned)kind);
    if (len > SCD_FOLLOW_EVENT_MAX_BYTES - SCD_FOLLOW_EVENT_OVERHEAD)
        return sp_error_set(err, SP_ERR_INVALID,
                            "follow event: %zu bytes of JSON exceed the record limit of %u bytes",
                            len, SCD_FOLLOW_EVENT_MAX_BYTES);
    size_t total = len + SCD_FOLLOW_EVENT_OVERHEAD;
    uint8_t *r = g_malloc(total);
    memcpy(r, SCD_FOLLOW_EVENT_MAGIC, 4);
    put_u32(r + 4, (uint32_t)total);
    r[8] = (uint8_t)kind;
    r[9] = (uint8_t)((unsigned)kind >> 8);
    r[10] = r[11] = 0;
    memcpy(r + 12, json, len);
    put_u32(r + total - 4, crc_of(r, total - 4));
    *out = g_bytes_new_take(r, total);
    return SP_OK;
}

sp_status scd_follow_event_decode(const void *data, size_t len, unsigned *kind, const char **json,
                                  size_t *json_len, size_t *consumed, sp_error *err) {
    const uint8_t *p = data;
    *consumed = 0;
    if (len < 8)
        return SP_OK;
    if (memcmp(p, SCD_FOLLOW_EVENT_MAGIC, 4) != 0)
        return sp_error_set(err, SP_ERR_FORMAT, "follow event: bad magic %02x%02x%02x%02x", p[0],
                            p[1], p[2], p[3]);
    uint32_t total = get_u32(p + 4);
    if (total < SCD_FOLLOW_EVENT_OVERHEAD || total > SCD_FOLLOW_EVENT_MAX_BYTES)
        return sp_error_set(err, SP_ERR_FORMAT, "follow event: length %u outside [%u, %u]", total,
                            SCD_FOLLOW_EVENT_OVERHEAD, SCD_FOLLOW_EVENT_MAX_BYTES);
    if (len < total)
        return SP_OK;
    uint32_t stored = get_u32(p + total - 4), computed = crc_of(p, total - 4);
    if (stored != computed)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "follow event: checksum mismatch (stored %08x, computed %08x)", stored,
                            computed);
    if (p[10] != 0 || p[11] != 0)
        return sp_error_set(err, SP_ERR_FORMAT, "follow event: reserved bytes are not zero");
    *kind = (unsigned)p[8] | (unsigned)p[9] << 8;
    *json = (const char *)p + 12;
    *json_len = total - SCD_FOLLOW_EVENT_OVERHEAD;
    *consumed = total;
    return SP_OK;
}

gboolean scd_follow_events_parse(const char *list, guint *mask, char **why) {
    *mask = 0;
    *why = NULL;
    char **words = g_strsplit(list, ",", -1);
    for (char **w = words; *w; w++) {
        const char *word = g_strstrip(*w);
        guint bit = 0;
        for (unsigned k = 0; k < G_N_ELEMENTS(kind_names); k++)
            if (kind_names[k] && strcmp(kind_names[k], word) == 0)
                bit = SCD_FOLLOW_EVENT_BIT(k);
        if (!bit) {
            *why = g_strdup_printf("unknown event kind '%s' (known: watch)", word);
            g_strfreev(words);
            return FALSE;
        }
        *mask |= bit;
    }
    g_strfreev(words);
    if (*mask == 0) {
        *why = g_strdup("no event kind named (known: watch)");
        return FALSE;
    }
    return TRUE;
}
