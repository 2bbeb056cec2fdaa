/* The cause of a network source's failure, found by connecting to its server.
 *
 * GStreamer's network sources often report a failed connection with a generic text: souphttpsrc
 * posts "Internal data stream error." for a refused connection, rtspsrc "Could not open resource
 * for reading and writing." The real reason stays in their debug log. So when a network source
 * fails, the stream opens a TCP connection to the URI's host and port itself (asynchronously, on
 * the main context, at most a few seconds) and reports what the operating system said:
 * "connection to 127.0.0.1:8554 refused", a name that does not resolve, a timeout, or that the
 * server does accept connections (then the failure lies in the protocol or the media).
 *
 * Threads: main thread. */
#ifndef SCRIPTD_NETPROBE_H
#define SCRIPTD_NETPROBE_H

#include <gio/gio.h>

/* Called once on the main context with the cause; not called when cancel was cancelled. */
typedef void (*scd_netprobe_done)(void *user, const char *cause);

/* Probes uri's host and port (rtsp 554, http 80, https 443 when the URI names none). Returns
 * FALSE (and calls nothing) when uri is not a network URI. */
gboolean scd_netprobe_start(const char *uri, GCancellable *cancel, scd_netprobe_done done,
                            void *user);

#endif
