/* A second core for the elementwise kernels of a tower (softmax, activation, layer norm, bias).
 * Between its matrix products OpenBLAS uses two threads, but those kernels ran on one, so on 2
 * BLAS threads they cost the towers several points of their SGEMM rate. One helper thread per
 * encode context, created with the context and sleeping on a condition variable between jobs;
 * it is used only while BLAS runs on more than one thread. The helper is kept off the CPU its
 * caller runs on: OpenBLAS's idle workers spin for a while after each product, so the scheduler
 * sees the other core as busy and would wake the helper beside its caller. */
#ifndef SP_ENCODE_PAIR_H
#define SP_ENCODE_PAIR_H

#include <scriptprune/error.h>

typedef struct vm_pair vm_pair;

/* fn(arg, half) does half 0 or 1 of a job; the two halves must touch disjoint outputs. */
typedef void (*vm_pair_fn)(void *arg, int half);

/* A helper thread in *out (free with vm_pair_free); SP_ERR_NOMEM or SP_ERR_IO. */
sp_status vm_pair_new(vm_pair **out, sp_error *err);
void vm_pair_free(vm_pair *p);

/* Runs fn(arg, 1) on the helper while the caller runs fn(arg, 0), and returns when both are done.
 * With p NULL or BLAS on one thread both halves run on the caller, in order. */
void vm_pair_run(vm_pair *p, vm_pair_fn fn, void *arg);

#endif
