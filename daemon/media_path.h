/* Client-supplied file paths (jobs, exemplar images by path) are confined to server.media_root.
 *
 * A path is taken relative to the root unless absolute, normalised lexically ("..", ".", "//"),
 * and must lie under the root before anything on disk is looked at, so that a refusal says
 * nothing about files elsewhere. Then both are resolved with realpath(3): a symlink inside the
 * root that points out of it is refused the same way. */
#ifndef SCRIPTD_MEDIA_PATH_H
#define SCRIPTD_MEDIA_PATH_H

typedef enum scd_path_result {
    SCD_PATH_OK = 0,
    SCD_PATH_DISABLED, /* media_root is "" */
    SCD_PATH_OUTSIDE,  /* outside the root (lexically or through a symlink) */
    SCD_PATH_MISSING,  /* no such file under the root */
    SCD_PATH_NOT_FILE, /* a directory or device, not a regular file */
} scd_path_result;

/* On SCD_PATH_OK *resolved is the real path (g_free); otherwise *why explains (g_free). */
scd_path_result scd_media_resolve(const char *root, const char *path, char **resolved, char **why);

#endif
