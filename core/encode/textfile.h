/* Reading the small text files of a model folder (config.json, tokenizer files) whole. */
#ifndef SP_ENCODE_TEXTFILE_H
#define SP_ENCODE_TEXTFILE_H

#include <stddef.h>

#include "scriptprune/error.h"

/* Reads dir/name into a new NUL-terminated buffer (free with sp_free). A missing file returns
 * SP_ERR_NOT_FOUND (with the message set) so callers can treat optional files; files larger than
 * max_bytes are refused. */
sp_status enc_read_text(const char *dir, const char *name, size_t max_bytes, char **out,
                        size_t *len, sp_error *err);
/* dir + "/" + name into buf; SP_ERR_INVALID when it does not fit. */
sp_status enc_join_path(const char *dir, const char *name, char *buf, size_t cap, sp_error *err);

#endif
