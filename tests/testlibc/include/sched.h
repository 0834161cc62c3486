#ifndef _RSEQ_TESTLIBC_SCHED_H
#define _RSEQ_TESTLIBC_SCHED_H 1
#include <features.h>
#include <sys/types.h>
__BEGIN_DECLS
/* glibc's cpu_set_t: 1024 CPUs.  */
typedef struct { unsigned long __bits[1024 / (8 * sizeof (unsigned long))]; } cpu_set_t;
#define __CPU_WORD(cpu) ((cpu) / (8 * sizeof (unsigned long)))
#define __CPU_BIT(cpu) (1UL << ((cpu) % (8 * sizeof (unsigned long))))
#define CPU_SETSIZE 1024
#define CPU_ZERO(set) __builtin_memset ((set), 0, sizeof (cpu_set_t))
#define CPU_SET(cpu, set) ((set)->__bits[__CPU_WORD (cpu)] |= __CPU_BIT (cpu))
#define CPU_CLR(cpu, set) ((set)->__bits[__CPU_WORD (cpu)] &= ~__CPU_BIT (cpu))
#define CPU_ISSET(cpu, set) (((set)->__bits[__CPU_WORD (cpu)] & __CPU_BIT (cpu)) != 0)
int sched_yield (void);
int sched_setaffinity (pid_t, size_t, const cpu_set_t *);
int sched_getaffinity (pid_t, size_t, cpu_set_t *);
/* From the rseq component: the area's cpu_id, else the vDSO, else the
   syscall.  */
int sched_getcpu (void);
int getcpu (unsigned int *, unsigned int *);
__END_DECLS
#endif
