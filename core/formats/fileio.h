/* File access shared by the readers and writers: whole files mapped read-only (no copy, no
 * partial reads to handle), and atomic replacement through a temporary file and rename(2). */
#ifndef SP_FILEIO_H
#define SP_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"

typedef struct sp_file_map {
    const uint8_t *data; /* len readable bytes; never NULL after a successful open */
    size_t len;
    void *addr; /* the mapping, or NULL for an empty file */
} sp_file_map;

/* Maps a regular file read-only. If another process truncates the file while it is mapped, reads
 * past the new end raise SIGBUS: files are expected to be replaced by rename, as ours are. */
sp_status sp_file_map_open(const char *path, sp_file_map *m, sp_error *err);
void sp_file_map_close(sp_file_map *m);

/* A file being written under a temporary name in the target's directory. */
typedef struct sp_atomic_file {
    int fd;
    char *tmp_path;
    const char *path; /* borrowed from the caller for the duration of the write */
} sp_atomic_file;

/* Creates the temporary file (mode 0666 minus the umask, like a plain create). */
sp_status sp_atomic_open(sp_atomic_file *f, const char *path, sp_error *err);
sp_status sp_atomic_write(sp_atomic_file *f, const void *buf, size_t len, sp_error *err);
/* Flushes to disk, closes and renames over the target. On failure the temporary file is removed.
 * Either way f is released. */
sp_status sp_atomic_commit(sp_atomic_file *f, sp_error *err);
/* Closes and removes the temporary file; f is released. */
void sp_atomic_abort(sp_atomic_file *f);

/* strerror for messages, thread-safe: writes into buf and returns it. */
const char *sp_strerror(int errnum, char *buf, size_t cap);

#endif
