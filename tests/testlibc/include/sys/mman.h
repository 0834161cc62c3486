#ifndef _RSEQ_TESTLIBC_SYS_MMAN_H
#define _RSEQ_TESTLIBC_SYS_MMAN_H 1
#include <features.h>
#include <sys/types.h>
__BEGIN_DECLS
#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4
#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_ANON MAP_ANONYMOUS
#define MAP_FAILED ((void *) -1)
void *mmap (void *, size_t, int, int, int, off_t);
int munmap (void *, size_t);
__END_DECLS
#endif
