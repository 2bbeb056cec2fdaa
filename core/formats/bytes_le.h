/* Little-endian loads and stores from byte pointers of any alignment. The file formats are
 * little-endian whatever the host is; composing bytes keeps the code portable, and compilers turn
 * these into single loads and stores on little-endian hosts. */
#ifndef SP_BYTES_LE_H
#define SP_BYTES_LE_H

#include <stdint.h>

static inline uint16_t sp_load_le16(const uint8_t *p) {
    return (uint16_t)((uint16_t)p[0] | (uint16_t)((uint16_t)p[1] << 8));
}

static inline uint32_t sp_load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t sp_load_le64(const uint8_t *p) {
    return (uint64_t)sp_load_le32(p) | ((uint64_t)sp_load_le32(p + 4) << 32);
}

static inline void sp_store_le16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void sp_store_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void sp_store_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#endif
