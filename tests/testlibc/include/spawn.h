/* <spawn.h>: posix_spawn without file actions or attributes (ENOSYS).  */
#ifndef _RSEQ_TESTLIBC_SPAWN_H
#define _RSEQ_TESTLIBC_SPAWN_H 1
#include <features.h>
#include <sys/types.h>
__BEGIN_DECLS
typedef struct { int __allocated, __used; void *__actions; int __pad[16]; } posix_spawn_file_actions_t;
typedef struct { short __flags; pid_t __pgrp; char __pad[328]; } posix_spawnattr_t;
int posix_spawn (pid_t *__restrict, const char *__restrict,
                 const posix_spawn_file_actions_t *, const posix_spawnattr_t *__restrict,
                 char *const __argv[__restrict], char *const __envp[__restrict]);
__END_DECLS
#endif
