#ifndef _RSEQ_TESTLIBC_STRING_H
#define _RSEQ_TESTLIBC_STRING_H 1
#include <features.h>
#include <stddef.h>
__BEGIN_DECLS
void *memcpy (void *__restrict, const void *__restrict, size_t);
void *memmove (void *, const void *, size_t);
void *memset (void *, int, size_t);
int memcmp (const void *, const void *, size_t);
size_t strlen (const char *);
int strcmp (const char *, const char *);
int strncmp (const char *, const char *, size_t);
char *strchr (const char *, int);
char *strcpy (char *__restrict, const char *__restrict);
__END_DECLS
#endif
