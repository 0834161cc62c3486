/* rseq-testlibc: common declarations of the test libc's headers.  */
#ifndef _RSEQ_TESTLIBC_FEATURES_H
#define _RSEQ_TESTLIBC_FEATURES_H 1
#define __RSEQ_TESTLIBC__ 1
#ifdef __cplusplus
# define __BEGIN_DECLS extern "C" {
# define __END_DECLS }
#else
# define __BEGIN_DECLS
# define __END_DECLS
#endif
#endif
