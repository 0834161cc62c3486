/* <errno.h>: errno is per thread.  */
#ifndef _RSEQ_TESTLIBC_ERRNO_H
#define _RSEQ_TESTLIBC_ERRNO_H 1
#include <features.h>
__BEGIN_DECLS
int *__errno_location (void) __attribute__ ((__const__));
__END_DECLS
#define errno (*__errno_location ())
#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EINTR 4
#define EIO 5
#define ENXIO 6
#define E2BIG 7
#define EBADF 9
#define ECHILD 10
#define EAGAIN 11
#define EWOULDBLOCK EAGAIN
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define EINVAL 22
#define ENOSPC 28
#define ERANGE 34
#define EDEADLK 35
#define ENOSYS 38
#define ENOTSUP 95
#define EOPNOTSUPP 95
#define ETIMEDOUT 110
#define ECANCELED 125
#endif
