/* The report --exit-when-done prints on stdout when every source has ended: per stream, what
 * was sampled, how many tokens went in and out, the selection latency, and the files written. */
#ifndef SCRIPTD_SUMMARY_H
#define SCRIPTD_SUMMARY_H

#include <stdio.h>

#include "app.h"

void scd_print_summary(scd_app *app, FILE *out);
/* The same as JSON Lines: one /v1/streams object per stream and line (for scripts, bench/). */
void scd_print_summary_json(scd_app *app, FILE *out);

#endif
