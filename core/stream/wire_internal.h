/* Shared by the wire writer and reader: byte offsets (docs/wire-format.md is the table), the
 * checksum, and the packet rules both sides enforce, so that whatever the writer accepts the
 * reader accepts and nothing else. */
#ifndef SP_WIRE_INTERNAL_H
#define SP_WIRE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/wire.h"

#define SP_WIRE_MAGIC "SPTS"
#define SP_WIRE_PACKET_MAGIC "SPPK"

/* Stream header offsets. */
enum {
    WH_MAGIC = 0,
    WH_VERSION = 4,
    WH_LENGTH = 6,
    WH_DTYPE = 8,
    WH_KIND = 9,
    WH_MODE = 10,      /* version 2; reserved (0) in version 1 */
    WH_RESERVED0 = 11, /* 1 byte in version 2, 2 bytes (with WH_MODE) in version 1 */
    WH_D = 12,
    WH_GRID_H = 16,
    WH_GRID_W = 18,
    WH_WINDOW = 20,
    WH_HOP = 24,
    WH_BUDGET = 28,
    WH_TAU = 32,
    WH_NAME_LEN = 36,
    WH_RESERVED1 = 38,
    WH_CRC = 40,
    WH_NAME = 44,
};

/* Packet offsets. */
enum {
    WP_MAGIC = 0,
    WP_LENGTH = 4,
    WP_WINDOW = 8,
    WP_PTS_FIRST = 16,
    WP_PTS_LAST = 24,
    WP_FRAME_FIRST = 32,
    WP_FRAME_LAST = 40,
    WP_QUERY = 48,
    WP_COUNT = 56,
    WP_BUDGET = 60,
    WP_KIND = 64,
    WP_MODE = 65,     /* version 2; reserved (0) in version 1 */
    WP_RESERVED = 66, /* 6 bytes, zero */
    WP_INFO = 72,
    /* info record */
    WI_PTS = 0,
    WI_LAST_PTS = 8,
    WI_FRAME = 16,
    WI_SEEN = 24,
    WI_Y = 28,
    WI_X = 30,
};

/* Wire codes of the value types. */
enum { SP_WIRE_DT_F32 = 1, SP_WIRE_DT_F16 = 2 };

/* Order of tokens in a packet: frame, then grid position. */
static inline int sp_key_order(uint64_t fa, uint32_t pa, uint64_t fb, uint32_t pb) {
    if (fa != fb)
        return fa < fb ? -1 : 1;
    return pa < pb ? -1 : (pa > pb ? 1 : 0);
}

/* CRC-32 of the wire format (as zlib.crc32): continues crc (0 to start) over len bytes.
 * sp_crc32_update folds 64 bytes a step with carry-less multiplication where the CPU has it
 * (wire_crc_fold.c) and uses the tables (wire_crc.c) otherwise; both give the same value. */
#include "../formats/crc32.h"
uint32_t sp_crc32_update_tables(uint32_t crc, const void *data, size_t len);

/* Bytes of one value in the stream's dtype. */
static inline size_t sp_wire_value_size(sp_dtype t) {
    return t == SP_DTYPE_F16 ? 2 : 4;
}

/* Packet length for count tokens; false on overflow or above UINT32_MAX. */
bool sp_wire_packet_length(const sp_wire_header *h, size_t count, size_t *len);

/* Sequence state both sides track across packets. */
typedef struct sp_wire_seq {
    uint64_t packets;     /* packets seen (excluding reselect ones? no: all) */
    bool have_window;     /* a non-reselect packet was seen */
    uint64_t last_window; /* its window id */
    uint64_t last_frame;  /* its frame_last */
} sp_wire_seq;

/* The rules of docs/wire-format.md ("What a reader checks") on a decoded packet, except the
 * checksum and the byte layout. `where` prefixes messages ("packet 3 at byte 1234"). Updates seq
 * on success. Values must already be float32 (f16 ones converted). */
sp_status sp_wire_check_packet(const sp_wire_header *h, const sp_packet *p, sp_wire_seq *seq,
                               const char *where, sp_error *err);

#endif
