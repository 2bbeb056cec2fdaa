/* Export macro of libgstscript-1.0: the library is built with hidden visibility and only what a
 * header marks GST_SCRIPT_API is exported. */
#ifndef GST_SCRIPT_PRELUDE_H
#define GST_SCRIPT_PRELUDE_H

#include <gst/gst.h>

#ifndef GST_SCRIPT_API
#if defined(BUILDING_GST_SCRIPT) && defined(__GNUC__)
#define GST_SCRIPT_API __attribute__((visibility("default"))) extern
#else
#define GST_SCRIPT_API extern
#endif
#endif

#endif
