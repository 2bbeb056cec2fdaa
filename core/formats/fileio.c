#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"

const char *sp_strerror(int errnum, char *buf, size_t cap) {
    /* The XSI strerror_r (selected by _DEFAULT_SOURCE without _GNU_SOURCE) fills buf. */
    if (strerror_r(errnum, buf, cap) != 0)
        snprintf(buf, cap, "error %d", errnum);
    return buf;
}

sp_status sp_file_map_open(const char *path, sp_file_map *m, sp_error *err) {
    static const uint8_t empty[1];
    char eb[128];
    m->data = NULL;
    m->len = 0;
    m->addr = NULL;
    if (!path)
        return sp_error_set(err, SP_ERR_INVALID, "file path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sp_error_set(err, errno == ENOENT ? SP_ERR_NOT_FOUND : SP_ERR_IO,
                            "%s: cannot open for reading: %s", path,
                            sp_strerror(errno, eb, sizeof eb));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return sp_error_set(err, SP_ERR_IO, "%s: cannot stat: %s", path,
                            sp_strerror(e, eb, sizeof eb));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return sp_error_set(err, SP_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size < 0 || (uintmax_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return sp_error_set(err, SP_ERR_OVERFLOW, "%s: file size %jd does not fit in memory", path,
                            (intmax_t)sb.st_size);
    }
    size_t len = (size_t)sb.st_size;
    if (len == 0) { /* mmap rejects empty mappings; an empty file is a valid (if useless) input */
        close(fd);
        m->data = empty;
        return SP_OK;
    }
    void *addr = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file referenced */
    if (addr == MAP_FAILED)
        return sp_error_set(err, e == ENOMEM ? SP_ERR_NOMEM : SP_ERR_IO,
                            "%s: cannot map %zu bytes: %s", path, len,
                            sp_strerror(e, eb, sizeof eb));
    m->addr = addr;
    m->data = addr;
    m->len = len;
    return SP_OK;
}

void sp_file_map_close(sp_file_map *m) {
    if (m->addr)
        munmap(m->addr, m->len);
    m->addr = NULL;
    m->data = NULL;
    m->len = 0;
}

sp_status sp_atomic_open(sp_atomic_file *f, const char *path, sp_error *err) {
    f->fd = -1;
    f->tmp_path = NULL;
    f->path = path;
    if (!path || !*path)
        return sp_error_set(err, SP_ERR_INVALID, "output path is NULL or empty");
    size_t plen = strlen(path);
    /* path + ".tmp-" + pid + "-" + 16 hex digits + NUL */
    size_t cap = plen + 64;
    char *tmp = sp_malloc(cap);
    if (!tmp)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory for the temporary file name",
                            path);
    /* O_EXCL makes the name ours; on the rare collision try another. The suffix mixes the clock
     * with the attempt number, so concurrent writers of one path do not keep colliding. */
    for (unsigned attempt = 0; attempt < 100; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long salt =
            ((unsigned long long)ts.tv_sec * 1000000007ull) ^ (unsigned long long)ts.tv_nsec ^
            ((unsigned long long)attempt << 48) ^ (unsigned long long)(uintptr_t)f;
        snprintf(tmp, cap, "%s.tmp-%ld-%016llx", path, (long)getpid(), salt);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            f->fd = fd;
            f->tmp_path = tmp;
            return SP_OK;
        }
        if (errno != EEXIST) {
            char eb[128];
            sp_status st = sp_error_set(err, SP_ERR_IO, "%s: cannot create temporary file %s: %s",
                                        path, tmp, sp_strerror(errno, eb, sizeof eb));
            sp_free(tmp);
            return st;
        }
    }
    sp_free(tmp);
    return sp_error_set(err, SP_ERR_IO, "%s: no free temporary file name after 100 attempts", path);
}

sp_status sp_atomic_write(sp_atomic_file *f, const void *buf, size_t len, sp_error *err) {
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            char eb[128];
            return sp_error_set(err, SP_ERR_IO, "%s: write failed: %s", f->path,
                                sp_strerror(errno, eb, sizeof eb));
        }
        p += n;
        len -= (size_t)n;
    }
    return SP_OK;
}

static void release(sp_atomic_file *f) {
    sp_free(f->tmp_path);
    f->tmp_path = NULL;
    f->fd = -1;
}

sp_status sp_atomic_commit(sp_atomic_file *f, sp_error *err) {
    char eb[128];
    sp_status st = SP_OK;
    /* fsync before rename: otherwise a crash can leave the new name pointing at empty data. */
    if (fsync(f->fd) != 0)
        st = sp_error_set(err, SP_ERR_IO, "%s: fsync failed: %s", f->path,
                          sp_strerror(errno, eb, sizeof eb));
    if (close(f->fd) != 0 && st == SP_OK)
        st = sp_error_set(err, SP_ERR_IO, "%s: close failed: %s", f->path,
                          sp_strerror(errno, eb, sizeof eb));
    if (st == SP_OK && rename(f->tmp_path, f->path) != 0)
        st = sp_error_set(err, SP_ERR_IO, "%s: cannot rename %s into place: %s", f->path,
                          f->tmp_path, sp_strerror(errno, eb, sizeof eb));
    if (st != SP_OK)
        unlink(f->tmp_path);
    release(f);
    return st;
}

void sp_atomic_abort(sp_atomic_file *f) {
    if (f->fd >= 0) {
        close(f->fd);
        unlink(f->tmp_path);
    }
    release(f);
}
