#ifndef _RSEQ_TESTLIBC_SYS_WAIT_H
#define _RSEQ_TESTLIBC_SYS_WAIT_H 1
#include <features.h>
#include <sys/types.h>
__BEGIN_DECLS
#define WNOHANG 1
#define WUNTRACED 2
#define WEXITSTATUS(s) (((s) & 0xff00) >> 8)
#define WTERMSIG(s) ((s) & 0x7f)
#define WIFEXITED(s) (WTERMSIG (s) == 0)
#define WIFSIGNALED(s) (((signed char) (((s) & 0x7f) + 1) >> 1) > 0)
pid_t waitpid (pid_t, int *, int);
__END_DECLS
#endif
