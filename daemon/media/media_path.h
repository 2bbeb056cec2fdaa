/* Client-supplied file paths (job videos, exemplar images by path) are confined to
 * server.media_root, and what is checked is what is read: the result is an open descriptor, not a
 * path that could be swapped for a symlink between the check and the open.
 *
 * A path is taken relative to the root unless absolute, normalised lexically ("..", ".", "//"),
 * and must lie under the root before anything on disk is looked at. It is then walked one
 * component at a time from a descriptor of the root (openat with O_NOFOLLOW), following the
 * symbolic links it meets by reading them: a link whose target leaves the root (an absolute
 * target not under the root, or ".." above it) is refused from its text alone, so a refusal
 * never depends on whether anything outside the root exists. Links that stay inside the root
 * (relative, or absolute under the root's configured or real path) are followed.
 *
 * Refusals name only the path the client gave; they say the same for every path outside the root
 * whether or not it exists. */
#ifndef SCRIPTD_MEDIA_PATH_H
#define SCRIPTD_MEDIA_PATH_H

typedef enum scd_path_result {
    SCD_PATH_OK = 0,
    SCD_PATH_DISABLED,  /* media_root is "" */
    SCD_PATH_MALFORMED, /* empty, too long, a newline, or ending in '/' */
    SCD_PATH_OUTSIDE,   /* outside the root (lexically or through a symlink) */
    SCD_PATH_MISSING,   /* no such file under the root */
    SCD_PATH_NOT_FILE,  /* a directory, device or FIFO, not a regular file */
} scd_path_result;

/* Opens path (relative to root, or absolute under it) read-only. On SCD_PATH_OK *fd is an open
 * descriptor (O_CLOEXEC) of a regular file under the root, for the caller to close; otherwise
 * *fd = -1 and *why explains (g_free). */
scd_path_result scd_media_open(const char *root, const char *path, int *fd, char **why);

#endif
