/* Many scriptd nodes sharing the cameras, with Redis as the only coordinator (no cluster manager
 * of our own).
 *
 * Every node reads the same camera list: its config's streams (`cameras: config`) or the Redis
 * hash `cameras_key` of stream id -> YAML of one stream (`cameras: redis`). A node is live while
 * its key `scriptd:nodes:NAME` exists (SET ... PX lease_ms, refreshed every second). Each node runs
 * the cameras whose rendezvous hash over the live node names picks it: when a node dies its
 * cameras move to the others, when it returns they move back, and nothing else moves.
 *
 * Before starting a camera the node takes its lease `scriptd:lease:ID` with SET NX PX lease_ms and
 * refreshes it (only while it is still its own) every second; it releases the lease only after
 * the stream has stopped. A node that cannot refresh its leases stops its cameras once half a
 * lease has passed since the last successful refresh, before the leases expire, so a camera never
 * runs on two nodes for longer than one lease, even across a network partition or a stopped
 * process (SIGSTOP) — the window is the clock drift between nodes, not an unbounded overlap.
 *
 * Starting and stopping go through scd_streams_apply with a config holding the cameras this node
 * owns, exactly as a reload does. Redis I/O runs on the cluster's own thread; the main thread
 * polls its result (every 100 ms) and applies it. */
#ifndef SCRIPTD_CLUSTER_H
#define SCRIPTD_CLUSTER_H

#include "app.h"
#include "scriptprune/error.h"

typedef struct scd_cluster scd_cluster;

/* NULL (and SP_OK) when the config has no cluster.redis. Starts the lease thread; this node
 * runs no stream until it holds a lease. Main thread. */
sp_status scd_cluster_new(scd_app *app, scd_cluster **out, sp_error *err);

/* The app's config changed (start, reload): the camera list and the streams' settings are read
 * again and the owned cameras restarted when their settings changed. Returns the streams
 * started or restarted now. Main thread. */
guint scd_cluster_config_changed(scd_cluster *c);

/* Stops the thread, releases this node's camera leases and its node key. Call after the streams
 * have stopped. NULL is accepted. */
void scd_cluster_free(scd_cluster *c);

#endif
