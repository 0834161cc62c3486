#ifndef _RSEQ_TESTLIBC_STDLIB_H
#define _RSEQ_TESTLIBC_STDLIB_H 1
#include <features.h>
#include <stddef.h>
__BEGIN_DECLS
#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1
void *malloc (size_t);
void *calloc (size_t, size_t);
void *realloc (void *, size_t);
void free (void *);
void exit (int) __attribute__ ((__noreturn__));
void _Exit (int) __attribute__ ((__noreturn__));
void abort (void) __attribute__ ((__noreturn__));
int atexit (void (*) (void));
char *getenv (const char *);
int atoi (const char *);
long atol (const char *);
long strtol (const char *__restrict, char **__restrict, int);
__END_DECLS
#endif
