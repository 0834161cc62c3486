/* <signal.h> with glibc's x86-64 types.  */
#ifndef _RSEQ_TESTLIBC_SIGNAL_H
#define _RSEQ_TESTLIBC_SIGNAL_H 1
#include <features.h>
#include <sys/types.h>
__BEGIN_DECLS
typedef struct { unsigned long __val[1024 / (8 * sizeof (unsigned long))]; } sigset_t;
typedef int sig_atomic_t;
typedef void (*sighandler_t) (int);
typedef struct { int si_signo, si_errno, si_code, __pad0; long __pad[14]; } siginfo_t;
struct sigaction
{
  union
  {
    sighandler_t sa_handler;
    void (*sa_sigaction) (int, siginfo_t *, void *);
  } __sigaction_handler;
#define sa_handler __sigaction_handler.sa_handler
#define sa_sigaction __sigaction_handler.sa_sigaction
  sigset_t sa_mask;
  int sa_flags;
  void (*sa_restorer) (void);
};
#define SIG_DFL ((sighandler_t) 0)
#define SIG_IGN ((sighandler_t) 1)
#define SIG_ERR ((sighandler_t) -1)
#define SA_NOCLDSTOP 1
#define SA_NOCLDWAIT 2
#define SA_SIGINFO 4
#define SA_ONSTACK 0x08000000
#define SA_RESTART 0x10000000
#define SA_NODEFER 0x40000000
#define SA_RESETHAND 0x80000000
#define SIG_BLOCK 0
#define SIG_UNBLOCK 1
#define SIG_SETMASK 2
#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGILL 4
#define SIGTRAP 5
#define SIGABRT 6
#define SIGBUS 7
#define SIGFPE 8
#define SIGKILL 9
#define SIGUSR1 10
#define SIGSEGV 11
#define SIGUSR2 12
#define SIGPIPE 13
#define SIGALRM 14
#define SIGTERM 15
#define SIGCHLD 17
#define SIGCONT 18
#define SIGSTOP 19
#define SIGRTMIN 34
#define SIGRTMAX 64
#define NSIG 65
int sigaction (int, const struct sigaction *__restrict, struct sigaction *__restrict);
sighandler_t signal (int, sighandler_t);
int raise (int);
int kill (pid_t, int);
int sigprocmask (int, const sigset_t *__restrict, sigset_t *__restrict);
int pthread_sigmask (int, const sigset_t *__restrict, sigset_t *__restrict);
int sigemptyset (sigset_t *);
int pthread_kill (unsigned long, int);
int sigfillset (sigset_t *);
int sigaddset (sigset_t *, int);
int sigdelset (sigset_t *, int);
int sigismember (const sigset_t *, int);
__END_DECLS
#endif
