/* Rendezvous (highest random weight) hashing: which of the live nodes runs a camera. Every node
 * computes it alone from the same inputs and gets the same answer; when a node leaves, only its
 * cameras move (each to the node with its next highest weight), and when it returns they move
 * back. The weight is splitmix64's finalizer of FNV-1a over (node, 0xff, camera). */
#ifndef SCRIPTD_RENDEZVOUS_H
#define SCRIPTD_RENDEZVOUS_H

#include <stddef.h>

/* The node of nodes[0..n) with the highest weight for camera (ties: the smaller name); NULL when
 * n is 0. */
const char *scd_rendezvous_pick(const char *const *nodes, size_t n, const char *camera);

#endif
