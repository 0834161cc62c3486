/* <stdio.h>: unbuffered streams (fflush has nothing to do).  */
#ifndef _RSEQ_TESTLIBC_STDIO_H
#define _RSEQ_TESTLIBC_STDIO_H 1
#include <features.h>
#include <stddef.h>
#include <stdarg.h>
#include <sys/types.h>
__BEGIN_DECLS
typedef struct _rseq_testlibc_file FILE;
extern FILE *stdin, *stdout, *stderr;
#define EOF (-1)
int printf (const char *__restrict, ...) __attribute__ ((__format__ (__printf__, 1, 2)));
int fprintf (FILE *__restrict, const char *__restrict, ...)
  __attribute__ ((__format__ (__printf__, 2, 3)));
int dprintf (int, const char *__restrict, ...) __attribute__ ((__format__ (__printf__, 2, 3)));
int sprintf (char *__restrict, const char *__restrict, ...)
  __attribute__ ((__format__ (__printf__, 2, 3)));
int snprintf (char *__restrict, size_t, const char *__restrict, ...)
  __attribute__ ((__format__ (__printf__, 3, 4)));
int vprintf (const char *__restrict, va_list) __attribute__ ((__format__ (__printf__, 1, 0)));
int vfprintf (FILE *__restrict, const char *__restrict, va_list)
  __attribute__ ((__format__ (__printf__, 2, 0)));
int vdprintf (int, const char *__restrict, va_list) __attribute__ ((__format__ (__printf__, 2, 0)));
int vsprintf (char *__restrict, const char *__restrict, va_list)
  __attribute__ ((__format__ (__printf__, 2, 0)));
int vsnprintf (char *__restrict, size_t, const char *__restrict, va_list)
  __attribute__ ((__format__ (__printf__, 3, 0)));
int fflush (FILE *);
int fputs (const char *__restrict, FILE *__restrict);
int fputc (int, FILE *);
int putchar (int);
int puts (const char *);
void perror (const char *);
__END_DECLS
#endif
