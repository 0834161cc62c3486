#ifndef _RSEQ_TESTLIBC_UNISTD_H
#define _RSEQ_TESTLIBC_UNISTD_H 1
#include <features.h>
#include <sys/types.h>
__BEGIN_DECLS
#define STDIN_FILENO 0
#define STDOUT_FILENO 1
#define STDERR_FILENO 2
ssize_t write (int, const void *, size_t);
ssize_t read (int, void *, size_t);
int close (int);
void _exit (int) __attribute__ ((__noreturn__));
pid_t getpid (void);
pid_t gettid (void);
long syscall (long, ...);
int usleep (useconds_t);
pid_t fork (void);
pid_t vfork (void);
int execve (const char *, char *const[], char *const[]);
extern char **environ;
unsigned int sleep (unsigned int);
__END_DECLS
#endif
