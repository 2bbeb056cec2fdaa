/* Token packets and the token-stream wire format (docs/wire-format.md has the byte-level table).
 *
 * A packet is what a stream emits: `count` token vectors of width d, each with its provenance
 * (frame pts, frame index, grid row and column), plus the window it summarises. The wire format is
 * a versioned stream header followed by length-prefixed, checksummed packets; this file has the
 * one writer and the one reader of it in core. Everything is little-endian.
 *
 * Safetensors output of packets lives here too: tensors `tokens` [n, d], `pts` [n] int64,
 * `last_pts` [n] int64, `seen` [n] int32, `frame` [n] int32, `yx` [n, 2] int16 and `packets`
 * [P, 7] int64 (per packet: window id or -1, pts_first, pts_last, frame_first, frame_last, token
 * count, budget), with metadata `format`, `stream`, `window`, `method`, `budget`, `query_hash`,
 * `kind`, `mode`, `packets`.
 *
 * Thread-safety: writers and readers are single-threaded objects; distinct objects may be used
 * from distinct threads. The encode/decode helpers are pure. */
#ifndef SCRIPTPRUNE_WIRE_H
#define SCRIPTPRUNE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"
#include "scriptprune/frame.h"
#include "scriptprune/tensor.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Provenance of one emitted token. */
typedef struct sp_token_info {
    int64_t pts;      /* pts (ns) of the frame the vector was taken from */
    int64_t last_pts; /* pts of the last frame in which the token was seen again (>= pts) */
    uint64_t frame;   /* index of the frame the vector was taken from (0 = first pushed) */
    uint32_t seen;    /* frames in which it was seen: 1 + later temporal matches */
    uint16_t y, x;    /* grid row and column in its frame */
} sp_token_info;

typedef enum sp_packet_kind {
    SP_PACKET_FRAME = 0,    /* `frame` policy: one frame's new tokens; window id = frame index */
    SP_PACKET_WINDOW = 1,   /* `window` policy: the best tokens of the last `window` frames */
    SP_PACKET_RESELECT = 2, /* a reselect() result over a time range */
    SP_PACKET_KIND_COUNT
} sp_packet_kind;

/* What a stream's packets promise about the tokens in them (docs/streams.md, "Packet modes").
 * SNAPSHOT: a packet represents its span: every token in it was seen in the span (its last_pts >=
 * the packet's pts_first), so a token no longer seen is not re-sent as if current; a token still
 * seen is sent again by every packet that selects it. DELTA: a packet holds only tokens the stream
 * never sent before; no token is sent twice (for consumers that keep earlier tokens). */
typedef enum sp_packet_mode {
    SP_PACKET_SNAPSHOT = 0,
    SP_PACKET_DELTA = 1,
    SP_PACKET_MODE_COUNT
} sp_packet_mode;

/* Window id of packets that belong to no emission window (reselect results). */
#define SP_WINDOW_NONE UINT64_MAX

/* A packet: a borrowed view. Tokens are in time then raster order: (frame, y, x) ascending. */
typedef struct sp_packet {
    sp_packet_kind kind;
    sp_packet_mode mode;       /* the stream's packet mode (reselect results: SNAPSHOT) */
    uint64_t window;           /* window id (see sp_packet_kind), or SP_WINDOW_NONE */
    int64_t pts_first;         /* pts of the first frame the packet covers */
    int64_t pts_last;          /* pts of the last frame the packet covers (>= pts_first) */
    uint64_t frame_first;      /* index of the first frame covered */
    uint64_t frame_last;       /* index of the last frame covered */
    uint64_t query_hash;       /* sp_query_hash of the query used; 0 = no query */
    size_t budget;             /* tokens asked for */
    size_t count;              /* tokens in the packet: min(budget, candidates) */
    size_t d;                  /* token width */
    const float *tokens;       /* count x d */
    const sp_token_info *info; /* count entries */
} sp_packet;

/* A packet with owned, growable storage (reselect results, packets read back). Initialise with
 * sp_packet_buf_init, reuse across calls, release with sp_packet_buf_free. */
typedef struct sp_packet_buf {
    sp_packet packet; /* views into the buffers below */
    float *tokens;
    sp_token_info *info;
    size_t cap_tokens; /* allocated floats in tokens */
    size_t cap_info;   /* allocated entries in info */
} sp_packet_buf;

SP_API void sp_packet_buf_init(sp_packet_buf *b);
SP_API void sp_packet_buf_free(sp_packet_buf *b);
/* Makes room for count tokens of width d (contents undefined); sets packet.count/d/views. */
SP_API sp_status sp_packet_buf_reserve(sp_packet_buf *b, size_t count, size_t d, sp_error *err);
/* Deep copy of p into b. */
SP_API sp_status sp_packet_buf_copy(sp_packet_buf *b, const sp_packet *p, sp_error *err);

/* 64-bit FNV-1a hash of a query (rows m, width e, then the float bytes); 0 when there is no
 * query (q NULL or m == 0). A query that hashes to 0 is reported as 1. */
SP_API uint64_t sp_query_hash(const sp_query *q);

/* Stable names: "frame", "window", "reselect". */
SP_API const char *sp_packet_kind_name(sp_packet_kind k);
/* Stable names: "snapshot", "delta"; parse the same names (the message lists them). */
SP_API const char *sp_packet_mode_name(sp_packet_mode m);
SP_API sp_status sp_packet_mode_from_name(const char *name, sp_packet_mode *out, sp_error *err);

/* ---------------------------------------------------------------------------------------------
 * Wire format, version 2 (version 1, without the packet mode, is still read). */

enum {
    SP_WIRE_VERSION = 2,       /* what the writer writes */
    SP_WIRE_VERSION_MIN = 1,   /* the oldest version the reader reads */
    SP_WIRE_HEADER_FIXED = 44, /* bytes of the stream header before the name */
    SP_WIRE_NAME_MAX = 255,    /* bytes of stream name at most */
    SP_WIRE_PACKET_FIXED = 72, /* bytes of a packet before its token records */
    SP_WIRE_TRAILER = 4,       /* the CRC-32 that ends every packet */
    SP_WIRE_INFO_BYTES = 32,   /* bytes of one token's provenance record */
    SP_WIRE_MAX_D = 65536,     /* widest token accepted */
    SP_WIRE_MAX_GRID = 32767,  /* grid rows/columns at most (they are int16 in safetensors) */
};

/* The stream header: what every packet of the stream shares. */
typedef struct sp_wire_header {
    uint16_t version;                /* format version read (the writer always writes
                                      * SP_WIRE_VERSION and ignores this field) */
    sp_dtype dtype;                  /* storage of token values: SP_DTYPE_F16 or SP_DTYPE_F32 */
    sp_packet_kind kind;             /* the emission policy of the stream's packets */
    sp_packet_mode mode;             /* the packet mode; version 1 streams read as SNAPSHOT */
    uint32_t d;                      /* token width, 1 .. SP_WIRE_MAX_D */
    uint16_t grid_h, grid_w;         /* frame grid, 1 .. SP_WIRE_MAX_GRID */
    uint32_t window;                 /* frames per window (policy window), else 0 */
    uint32_t hop;                    /* frames between window emissions, else 0 */
    uint32_t budget;                 /* tokens per packet asked for (frame or window budget) */
    float tau_t;                     /* temporal threshold the stream used (informational) */
    char name[SP_WIRE_NAME_MAX + 1]; /* stream name, NUL-terminated, no NUL inside */
} sp_wire_header;

/* Fills h with neutral values (F16, window kind, d 1, grid 1x1, empty name). */
SP_API void sp_wire_header_init(sp_wire_header *h);
/* Range checks of every field. */
SP_API sp_status sp_wire_header_validate(const sp_wire_header *h, sp_error *err);

/* Where a writer's bytes go: returns SP_OK or an error (filled into err). */
typedef sp_status (*sp_wire_sink_fn)(void *user, const void *data, size_t len, sp_error *err);

typedef struct sp_wire_writer sp_wire_writer;

/* Creates a writer and writes the stream header to the sink. NULL *out on error. */
SP_API sp_status sp_wire_writer_new(const sp_wire_header *h, sp_wire_sink_fn sink, void *user,
                                    sp_wire_writer **out, sp_error *err);
SP_API void sp_wire_writer_free(sp_wire_writer *w);
/* Encodes and writes one packet. The packet must match the header (d, grid, kind), carry finite
 * values, at most `budget` tokens, window ids strictly increasing across packets (reselect
 * packets excepted). Token values are rounded to float16 when the header says F16 (values beyond
 * the float16 range are rejected, not saturated). */
SP_API sp_status sp_wire_writer_packet(sp_wire_writer *w, const sp_packet *p, sp_error *err);
/* Bytes written so far (header included). */
SP_API uint64_t sp_wire_writer_bytes(const sp_wire_writer *w);

/* A sink that appends to a FILE* (user = FILE*). */
SP_API sp_status sp_wire_file_sink(void *user, const void *data, size_t len, sp_error *err);

/* Incremental reader: feed bytes as they arrive (file chunks, socket reads), take packets out.
 * It validates everything before exposing a packet: magic, version, header fields, packet length
 * against the header (exact), checksum, counts, budgets, grid positions, pts order, finite
 * values, window ids increasing. The first error is sticky: every later call returns it. */
typedef struct sp_wire_reader sp_wire_reader;

/* max_packet_bytes bounds one packet (0: 256 MiB); larger length prefixes are rejected before
 * any allocation. NULL when out of memory. */
SP_API sp_wire_reader *sp_wire_reader_new(size_t max_packet_bytes);
SP_API void sp_wire_reader_free(sp_wire_reader *r);
/* Appends bytes to the reader's input (copied). */
SP_API sp_status sp_wire_reader_feed(sp_wire_reader *r, const void *data, size_t len,
                                     sp_error *err);
/* Parses the next packet if the input holds all of it: *got = true and *out views the packet
 * (valid until the next call on r; tokens converted to float32). *got = false: more input is
 * needed. */
SP_API sp_status sp_wire_reader_next(sp_wire_reader *r, sp_packet *out, bool *got, sp_error *err);
/* Declares the end of input: SP_OK only at a clean packet boundary after a complete header;
 * otherwise SP_ERR_FORMAT saying what was truncated and where. */
SP_API sp_status sp_wire_reader_finish(sp_wire_reader *r, sp_error *err);
/* The stream header, or NULL before it has been read. */
SP_API const sp_wire_header *sp_wire_reader_header(const sp_wire_reader *r);
/* Packets returned and bytes consumed so far. */
SP_API uint64_t sp_wire_reader_packets(const sp_wire_reader *r);
SP_API uint64_t sp_wire_reader_offset(const sp_wire_reader *r);

/* True when buf starts with the wire magic (used to tell stream files from safetensors). */
SP_API bool sp_wire_is_stream(const uint8_t *buf, size_t len);

/* ---------------------------------------------------------------------------------------------
 * Safetensors output: packets collected into one file. */

typedef struct sp_packet_collector sp_packet_collector;

/* Collects packets of width d (tokens kept as float32 until written). `method` and `stream` go
 * to the metadata. NULL when out of memory. */
SP_API sp_packet_collector *sp_packet_collector_new(size_t d, const char *stream,
                                                    const char *method);
SP_API void sp_packet_collector_free(sp_packet_collector *c);
SP_API sp_status sp_packet_collector_add(sp_packet_collector *c, const sp_packet *p, sp_error *err);
/* Writes tokens/pts/last_pts/seen/frame/yx/packets and the metadata, tokens as `dtype`
 * (F16 or F32), to a file (atomically) or to a new malloc'd buffer (free with free()). Frame
 * indices beyond int32 and grid positions beyond int16 are rejected. */
SP_API sp_status sp_packet_collector_write(const sp_packet_collector *c, sp_dtype dtype,
                                           const char *path, sp_error *err);
SP_API sp_status sp_packet_collector_to_buffer(const sp_packet_collector *c, sp_dtype dtype,
                                               uint8_t **buf, size_t *len, sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
