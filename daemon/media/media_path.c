/* Confinement of client paths to the media root (media_path.h). Linux: O_PATH descriptors, and
 * readlinkat on one with an empty name. */
#define _GNU_SOURCE
#include "media/media_path.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* As the kernel's own limit on symlinks followed in one lookup (MAXSYMLINKS). */
enum { MAX_LINKS = 40 };

/* The part of `path` below `root` (both canonical, absolute), or NULL when it is not below. */
static const char *below(const char *root, const char *path) {
    size_t n = strlen(root);
    if (n > 0 && root[n - 1] == '/')
        n--; /* the root "/" itself */
    if (strncmp(path, root, n) != 0 || path[n] != '/')
        return NULL;
    return path + n + 1;
}

/* The state of one walk: directories opened so far (the root first), components still to walk. */
typedef struct walk {
    const char *root_lexical, *root_real; /* the root as configured and as resolved */
    GArray *dirs;                         /* int descriptors, O_PATH */
    GQueue todo;                          /* char* components */
    int links;                            /* symbolic links followed (and swaps retried) */
} walk;

static int top(const walk *w) {
    return g_array_index(w->dirs, int, w->dirs->len - 1);
}

static void pop_dirs(walk *w, guint keep) {
    while (w->dirs->len > keep) {
        close(top(w));
        g_array_set_size(w->dirs, w->dirs->len - 1);
    }
}

/* Puts the components of a relative path in front of what is left to walk. */
static void push_front(walk *w, const char *rel) {
    char **parts = g_strsplit(rel, "/", -1);
    for (int i = (int)g_strv_length(parts) - 1; i >= 0; i--) {
        if (parts[i][0] && strcmp(parts[i], ".") != 0)
            g_queue_push_head(&w->todo, parts[i]);
        else
            g_free(parts[i]);
    }
    g_free(parts); /* the strings now belong to the queue */
}

/* Continues the walk with the target of the link `fd` (the link itself, O_PATH). Only the text of
 * the link is looked at: a target outside the root is refused without touching it. */
static scd_path_result follow_link(walk *w, int fd) {
    if (++w->links > MAX_LINKS)
        return SCD_PATH_OUTSIDE;
    char target[PATH_MAX];
    ssize_t n = readlinkat(fd, "", target, sizeof target - 1);
    if (n <= 0)
        return SCD_PATH_MISSING;
    target[n] = '\0';
    if (target[0] != '/') {
        push_front(w, target);
        return SCD_PATH_OK;
    }
    char *canon = g_canonicalize_filename(target, "/");
    const char *rel = below(w->root_lexical, canon);
    if (!rel)
        rel = below(w->root_real, canon);
    scd_path_result rc = SCD_PATH_OUTSIDE;
    if (rel) {
        pop_dirs(w, 1); /* back to the root */
        push_front(w, rel);
        rc = SCD_PATH_OK;
    }
    g_free(canon);
    return rc;
}

/* Opens the regular file `name` in the current directory for reading. O_NONBLOCK: a FIFO must not
 * block the opener (it is then refused as not a regular file). */
static scd_path_result open_file(walk *w, const char *name, int *out) {
    int fd = openat(top(w), name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno == ELOOP ? SCD_PATH_OK : SCD_PATH_MISSING; /* ELOOP: swapped for a link */
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return SCD_PATH_NOT_FILE;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    *out = fd;
    return SCD_PATH_OK;
}

/* Walks w->todo from the root; on SCD_PATH_OK *out is the file's descriptor. */
static scd_path_result walk_path(walk *w, int *out) {
    char *name;
    while ((name = g_queue_pop_head(&w->todo))) {
        scd_path_result rc = SCD_PATH_OK;
        if (strcmp(name, "..") == 0) {
            if (w->dirs->len == 1)
                rc = SCD_PATH_OUTSIDE;
            else
                pop_dirs(w, w->dirs->len - 1);
            g_free(name);
            if (rc != SCD_PATH_OK)
                return rc;
            continue;
        }
        int fd = openat(top(w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) != 0) {
            rc = SCD_PATH_MISSING;
        } else if (S_ISLNK(sb.st_mode)) {
            rc = follow_link(w, fd);
        } else if (S_ISDIR(sb.st_mode)) {
            if (g_queue_is_empty(&w->todo)) {
                rc = SCD_PATH_NOT_FILE;
            } else {
                g_array_append_val(w->dirs, fd);
                fd = -1;
            }
        } else if (!g_queue_is_empty(&w->todo)) {
            rc = SCD_PATH_MISSING; /* a file used as a directory */
        } else if (!S_ISREG(sb.st_mode)) {
            rc = SCD_PATH_NOT_FILE;
        } else {
            rc = open_file(w, name, out);
            if (rc == SCD_PATH_OK && *out < 0) {
                /* Replaced by a symlink since the look above: walk it again as a link. */
                if (++w->links > MAX_LINKS)
                    rc = SCD_PATH_OUTSIDE;
                else
                    g_queue_push_head(&w->todo, g_strdup(name));
            }
        }
        if (fd >= 0)
            close(fd);
        g_free(name);
        if (rc != SCD_PATH_OK)
            return rc;
    }
    return *out >= 0 ? SCD_PATH_OK : SCD_PATH_NOT_FILE; /* the root itself */
}

static char *explain(scd_path_result rc, const char *path) {
    switch (rc) {
        case SCD_PATH_OUTSIDE:
            return g_strdup_printf("'%s' is outside the media root", path);
        case SCD_PATH_MISSING:
            return g_strdup_printf("'%s' does not exist under the media root", path);
        case SCD_PATH_NOT_FILE:
            return g_strdup_printf("'%s' is not a regular file", path);
        default:
            return g_strdup_printf("'%s' cannot be opened", path);
    }
}

scd_path_result scd_media_open(const char *root, const char *path, int *fd, char **why) {
    *fd = -1;
    *why = NULL;
    if (!root || !root[0]) {
        *why = g_strdup("server.media_root is not set: files are refused");
        return SCD_PATH_DISABLED;
    }
    size_t len = path ? strlen(path) : 0;
    if (len == 0 || len >= PATH_MAX || memchr(path, '\n', len)) {
        *why = g_strdup("the path is empty, too long or holds a newline");
        return SCD_PATH_MALFORMED;
    }
    if (path[len - 1] == '/') {
        *why = g_strdup_printf("'%s' ends with '/': a file is needed, not a directory", path);
        return SCD_PATH_MALFORMED;
    }
    char *lroot = g_canonicalize_filename(root, "/");
    char *lexical = g_canonicalize_filename(path, lroot);
    const char *rel = below(lroot, lexical);
    if (!rel) {
        g_free(lexical);
        g_free(lroot);
        *why = explain(SCD_PATH_OUTSIDE, path);
        return SCD_PATH_OUTSIDE;
    }
    /* The root is the operator's: it may itself be (or pass through) a symlink. */
    char real_root[PATH_MAX];
    int root_fd = open(lroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0 || !realpath(lroot, real_root)) {
        *why = g_strdup_printf("the media root cannot be opened: %s", g_strerror(errno));
        if (root_fd >= 0)
            close(root_fd);
        g_free(lexical);
        g_free(lroot);
        return SCD_PATH_MISSING;
    }
    walk w = {.root_lexical = lroot,
              .root_real = real_root,
              .dirs = g_array_new(FALSE, FALSE, sizeof(int))};
    g_queue_init(&w.todo);
    g_array_append_val(w.dirs, root_fd);
    push_front(&w, rel);
    scd_path_result rc = walk_path(&w, fd);
    if (rc != SCD_PATH_OK)
        *why = explain(rc, path);
    pop_dirs(&w, 0);
    g_array_unref(w.dirs);
    g_queue_clear_full(&w.todo, g_free);
    g_free(lexical);
    g_free(lroot);
    return rc;
}
