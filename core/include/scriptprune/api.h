/* SP_API marks the functions libscriptprune exports. The library is built with hidden visibility
 * (everything else stays internal to it), so a declaration without SP_API is not part of the API,
 * and tools/check-exports.sh checks that the two lists agree. */
#ifndef SCRIPTPRUNE_API_H
#define SCRIPTPRUNE_API_H

#if defined(__GNUC__) && __GNUC__ >= 4
#define SP_API __attribute__((visibility("default")))
#else
#define SP_API
#endif

#endif
