/* <pthread.h>: threads with their own TLS and rseq area.  Attributes:
   the stack (pthread_attr_setstack) and the detach state.  */
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
#define PTHREAD_CREATE_JOINABLE 0
#define PTHREAD_CREATE_DETACHED 1
#define PTHREAD_CANCELED ((void *) -1)
int pthread_attr_init (pthread_attr_t *);
int pthread_attr_destroy (pthread_attr_t *);
int pthread_attr_setstack (pthread_attr_t *, void *, size_t);
int pthread_attr_setdetachstate (pthread_attr_t *, int);
int pthread_attr_getdetachstate (const pthread_attr_t *, int *);
/* Deferred cancellation only: acted on in pthread_testcancel.  */
int pthread_cancel (pthread_t);
void pthread_testcancel (void);
#define PTHREAD_CANCEL_ENABLE 0
#define PTHREAD_CANCEL_DISABLE 1
int pthread_setcancelstate (int __state, int *__oldstate);
int pthread_kill (pthread_t, int);
int pthread_atfork (void (*) (void), void (*) (void), void (*) (void));
/* Cleanup handlers (musl's scheme): a frame on the caller's stack.  */
struct __ptcb { void (*__f) (void *); void *__x; struct __ptcb *__next; };
void _pthread_cleanup_push (struct __ptcb *, void (*) (void *), void *);
void _pthread_cleanup_pop (struct __ptcb *, int);
#define pthread_cleanup_push(f, x) \
  do { struct __ptcb __cb; _pthread_cleanup_push (&__cb, (f), (x));
#define pthread_cleanup_pop(r) _pthread_cleanup_pop (&__cb, (r)); } while (0)
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
