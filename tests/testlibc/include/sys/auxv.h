#ifndef _RSEQ_TESTLIBC_SYS_AUXV_H
#define _RSEQ_TESTLIBC_SYS_AUXV_H 1
#include <features.h>
__BEGIN_DECLS
#define AT_NULL 0
#define AT_PHDR 3
#define AT_PHNUM 5
#define AT_PAGESZ 6
#define AT_HWCAP 16
#define AT_SYSINFO_EHDR 33
#ifndef AT_RSEQ_FEATURE_SIZE
# define AT_RSEQ_FEATURE_SIZE 27
#endif
#ifndef AT_RSEQ_ALIGN
# define AT_RSEQ_ALIGN 28
#endif
/* 0 and errno ENOENT for a type the vector does not hold.  */
unsigned long getauxval (unsigned long);
__END_DECLS
#endif
