/* <pthread.h>: threads with their own TLS and rseq area.  Attributes
   are accepted and ignored.  */
#ifndef _RSEQ_TESTLIBC_PTHREAD_H
#define _RSEQ_TESTLIBC_PTHREAD_H 1
#include <features.h>
#include <sched.h>
#include <time.h>
__BEGIN_DECLS
typedef unsigned long pthread_t;
typedef unsigned int pthread_key_t;
typedef union { char __size[56]; long __align; } pthread_attr_t;
#define PTHREAD_KEYS_MAX 64
int pthread_create (pthread_t *__restrict, const pthread_attr_t *__restrict,
                    void *(*) (void *), void *__restrict);
int pthread_join (pthread_t, void **);
int pthread_detach (pthread_t);
void pthread_exit (void *) __attribute__ ((__noreturn__));
pthread_t pthread_self (void);
int pthread_equal (pthread_t, pthread_t);
int pthread_key_create (pthread_key_t *, void (*) (void *));
int pthread_key_delete (pthread_key_t);
int pthread_setspecific (pthread_key_t, const void *);
void *pthread_getspecific (pthread_key_t);
__END_DECLS
#endif
