/* CRC-32 as zlib.crc32 (IEEE 802.3 polynomial, reflected): the wire format's packet checksum and
 * the zip archives of torch-format embeddings. Implemented in core/stream (wire_crc*.c). */
#ifndef SP_CRC32_H
#define SP_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc (0 to start) over len bytes. */
uint32_t sp_crc32_update(uint32_t crc, const void *data, size_t len);

#endif
