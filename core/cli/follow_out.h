/* What `scriptprune follow` does with one Redis entry: decode its wire bytes, check the sequence
 * numbers, write the packet (a JSON line on stdout or one safetensors file per packet). */
#ifndef SP_CLI_FOLLOW_OUT_H
#define SP_CLI_FOLLOW_OUT_H

#include <stdbool.h>
#include <stdint.h>

#include "scriptprune/error.h"

/* The fields of one entry, borrowed from the reply. */
typedef struct follow_entry {
    const char *id;
    const char *stream;
    uint64_t seq, epoch;
    const uint8_t *packet;
    size_t packet_len;
} follow_entry;

/* Sequence tracking per (stream, epoch): gaps and repeats. */
typedef struct follow_seqs {
    struct {
        char stream[72];
        uint64_t epoch, next;
    } item[64];
    size_t n;
    uint64_t missing, duplicates, gaps;
} follow_seqs;

typedef enum follow_seen { FOLLOW_NEW = 0, FOLLOW_REPEAT } follow_seen;

/* Records e's sequence number: a jump forward is a gap (reported on stderr and counted), a number
 * already passed a repeat (the caller skips it). */
follow_seen follow_seqs_note(follow_seqs *s, const follow_entry *e);

/* Decodes e and writes it to out ("-": a JSON line on stdout, with every token's time span and
 * position when `positions`; else a directory receiving STREAM-EPOCH-sSEQ.safetensors, written
 * atomically). */
sp_status follow_write(const follow_entry *e, const char *out, bool positions, sp_error *err);

#endif
