#ifndef _RSEQ_TESTLIBC_TIME_H
#define _RSEQ_TESTLIBC_TIME_H 1
#include <features.h>
#include <sys/types.h>
__BEGIN_DECLS
struct timespec { time_t tv_sec; long tv_nsec; };
typedef int clockid_t;
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
int nanosleep (const struct timespec *, struct timespec *);
int clock_gettime (clockid_t, struct timespec *);
__END_DECLS
#endif
