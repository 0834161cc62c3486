#ifndef _RSEQ_TESTLIBC_TIME_H
#define _RSEQ_TESTLIBC_TIME_H 1
#include <features.h>
#include <sys/types.h>
__BEGIN_DECLS
struct timespec { time_t tv_sec; long tv_nsec; };
int nanosleep (const struct timespec *, struct timespec *);
__END_DECLS
#endif
