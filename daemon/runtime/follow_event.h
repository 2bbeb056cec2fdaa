/* Event records of the follow stream (docs/wire-format.md, "Follow event records"): what happens
 * on a stream besides its packets (the answers of standing questions), framed like a packet so
 * that a reader of the token stream can step over them: the magic `SPEV`, the record's length,
 * the event kind, a JSON object, a CRC-32. A follow client receives them only when it asks
 * (`?events=watch`): the default follow body stays a plain token stream, so readers written
 * before event records existed keep working.
 *
 * Pure byte layout, no I/O: any thread. */
#ifndef SCRIPTD_FOLLOW_EVENT_H
#define SCRIPTD_FOLLOW_EVENT_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"

#define SCD_FOLLOW_EVENT_MAGIC "SPEV"
#define SCD_FOLLOW_EVENT_OVERHEAD 16u          /* magic, length, kind, reserved, CRC */
#define SCD_FOLLOW_EVENT_MAX_BYTES (1u << 20u) /* a whole record at most */

/* Event kinds: the u16 of the record and a bit of a client's event mask. */
typedef enum scd_follow_event_kind {
    SCD_FOLLOW_EVENT_WATCH = 1, /* a standing question's answer or failure (runtime/watch.h) */
} scd_follow_event_kind;

#define SCD_FOLLOW_EVENT_BIT(kind) (1u << (unsigned)(kind))

/* The record for a JSON object of len bytes. SP_ERR_INVALID when the record would exceed
 * SCD_FOLLOW_EVENT_MAX_BYTES or the kind is unknown. */
sp_status scd_follow_event_encode(scd_follow_event_kind kind, const char *json, size_t len,
                                  GBytes **out, sp_error *err);

/* Reads the record at the start of data (len bytes available). On SP_OK *kind, the JSON text
 * (*json, *json_len, inside data) and *consumed (the record's length) are set; *consumed is 0
 * when len holds only part of the record (feed more). SP_ERR_FORMAT for a wrong magic, length,
 * reserved field or checksum (the message says which). */
sp_status scd_follow_event_decode(const void *data, size_t len, unsigned *kind, const char **json,
                                  size_t *json_len, size_t *consumed, sp_error *err);

/* Parses the `events` parameter of a follow request: kind names separated by commas ("watch").
 * FALSE with *why (g_free) naming the unknown word. */
gboolean scd_follow_events_parse(const char *list, guint *mask, char **why);

#endif
