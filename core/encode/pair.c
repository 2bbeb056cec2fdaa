/* The helper thread of vm_pair (see pair.h). */
#define _GNU_SOURCE
#include "pair.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>

#include "encode_internal.h"

struct vm_pair {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    vm_pair_fn fn; /* the pending job, NULL when there is none */
    void *arg;
    int busy; /* the helper is running a job */
    int quit;
    int away_from; /* the CPU the helper was last kept off (the caller's), -1: none */
};

static void *pair_main(void *v) {
    vm_pair *p = v;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->fn && !p->quit)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit)
            break;
        vm_pair_fn fn = p->fn;
        void *arg = p->arg;
        p->fn = NULL;
        pthread_mutex_unlock(&p->mu);
        fn(arg, 1);
        pthread_mutex_lock(&p->mu);
        p->busy = 0;
        pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

sp_status vm_pair_new(vm_pair **out, sp_error *err) {
    *out = NULL;
    vm_pair *p = sp_calloc(1, sizeof *p);
    if (!p)
        return sp_error_set(err, SP_ERR_NOMEM, "encode: out of memory for a helper thread");
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        sp_free(p);
        return sp_error_set(err, SP_ERR_IO, "encode: cannot create a helper thread's mutex");
    }
    if (pthread_cond_init(&p->wake, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        sp_free(p);
        return sp_error_set(err, SP_ERR_IO, "encode: cannot create a helper thread's condition");
    }
    if (pthread_cond_init(&p->done, NULL) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mu);
        sp_free(p);
        return sp_error_set(err, SP_ERR_IO, "encode: cannot create a helper thread's condition");
    }
    if (pthread_create(&p->thread, NULL, pair_main, p) != 0) {
        pthread_cond_destroy(&p->done);
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mu);
        sp_free(p);
        return sp_error_set(err, SP_ERR_IO, "encode: cannot start a helper thread");
    }
    p->away_from = -1;
    *out = p;
    return SP_OK;
}

void vm_pair_free(vm_pair *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    sp_free(p);
}

void vm_pair_run(vm_pair *p, vm_pair_fn fn, void *arg) {
    /* Read per call: a program may change the BLAS thread count after creating the context. */
    if (!p || openblas_get_num_threads() < 2) {
        fn(arg, 0);
        fn(arg, 1);
        return;
    }
    int cpu = sched_getcpu();
    if (cpu >= 0 && cpu != p->away_from) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0) {
            CPU_CLR(cpu, &set);
            if (CPU_COUNT(&set) > 0 && pthread_setaffinity_np(p->thread, sizeof set, &set) == 0)
                p->away_from = cpu;
        }
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->busy = 1;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0);
    pthread_mutex_lock(&p->mu);
    while (p->busy)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
