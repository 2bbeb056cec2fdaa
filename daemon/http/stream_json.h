/* The JSON view of a stream: its config, state, counters, query, pruning, encoder and sinks.
 * Main thread. */
#ifndef SCRIPTD_STREAM_JSON_H
#define SCRIPTD_STREAM_JSON_H

#include <json-glib/json-glib.h>

#include "runtime/streams.h"

/* Adds one object to b. */
void scd_stream_to_json(scd_stream *st, JsonBuilder *b);

#endif
