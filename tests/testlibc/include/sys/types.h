#ifndef _RSEQ_TESTLIBC_SYS_TYPES_H
#define _RSEQ_TESTLIBC_SYS_TYPES_H 1
#include <stddef.h>
typedef long ssize_t;
typedef int pid_t;
typedef long off_t;
typedef long time_t;
typedef unsigned int useconds_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;
#endif
