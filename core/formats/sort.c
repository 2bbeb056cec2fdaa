#include "sort.h"

#include <string.h>

void sp_sort_ptrs(const void **a, const void **tmp, size_t n, sp_ptr_cmp cmp) {
    /* Bottom-up merging between a and tmp; copy back at the end if the result landed in tmp. */
    const void **src = a;
    const void **dst = tmp;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = mid + width < n ? mid + width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = cmp(src[j], src[i]) < 0 ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        const void **t = src;
        src = dst;
        dst = t;
        if (width > n / 2)
            break;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}
