/* Confinement of client paths to the media root (media_path.h). */
#include "media_path.h"

#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool under(const char *root, const char *path) {
    size_t n = strlen(root);
    if (n > 0 && root[n - 1] == '/')
        n--; /* the root "/" itself */
    return strncmp(path, root, n) == 0 && path[n] == '/';
}

scd_path_result scd_media_resolve(const char *root, const char *path, char **resolved, char **why) {
    *resolved = NULL;
    *why = NULL;
    if (!root || !root[0]) {
        *why = g_strdup("server.media_root is not set: files are refused");
        return SCD_PATH_DISABLED;
    }
    if (!path || !path[0] || strlen(path) >= PATH_MAX || memchr(path, '\n', strlen(path))) {
        *why = g_strdup("the path is empty or malformed");
        return SCD_PATH_OUTSIDE;
    }
    char *lexical = g_canonicalize_filename(path, root);
    char *lroot = g_canonicalize_filename(root, "/");
    scd_path_result rc = SCD_PATH_OK;
    char real_root[PATH_MAX], real_path[PATH_MAX];
    if (!under(lroot, lexical)) {
        *why = g_strdup_printf("'%s' is outside the media root", path);
        rc = SCD_PATH_OUTSIDE;
    } else if (!realpath(lroot, real_root)) {
        *why = g_strdup_printf("the media root cannot be resolved: %s", g_strerror(errno));
        rc = SCD_PATH_MISSING;
    } else if (!realpath(lexical, real_path)) {
        *why = g_strdup_printf("'%s' does not exist under the media root", path);
        rc = SCD_PATH_MISSING;
    } else if (!under(real_root, real_path)) {
        *why = g_strdup_printf("'%s' leads outside the media root (symlink)", path);
        rc = SCD_PATH_OUTSIDE;
    } else {
        struct stat sb;
        if (stat(real_path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            *why = g_strdup_printf("'%s' is not a regular file", path);
            rc = SCD_PATH_NOT_FILE;
        } else {
            *resolved = g_strdup(real_path);
        }
    }
    g_free(lexical);
    g_free(lroot);
    return rc;
}
