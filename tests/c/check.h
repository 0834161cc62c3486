/* Shared by the C host tests: checks that count into "N passed, N failed",
   and helpers that use only what every host (glibc, musl, the standalone
   test libc) provides.  */
#ifndef RSEQ_LIBC_TEST_CHECK_H
#define RSEQ_LIBC_TEST_CHECK_H

#define _GNU_SOURCE 1
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

static int checks_passed, checks_failed;

#define CHECK(cond, ...)                                                \
  do {                                                                  \
    if (cond) {                                                         \
      checks_passed++;                                                  \
    } else {                                                            \
      checks_failed++;                                                  \
      printf ("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
      printf (__VA_ARGS__);                                             \
      printf ("\n");                                                    \
    }                                                                   \
  } while (0)

static __attribute__ ((unused)) int
syscall_getcpu (unsigned int *node)
{
  unsigned int cpu = 0, n = 0;
  if (syscall (SYS_getcpu, &cpu, &n, NULL) != 0)
    return -1;
  if (node)
    *node = n;
  return (int) cpu;
}

/* Runs READER between two getcpu syscalls that agree, so that a migration
   in between does not count as a wrong answer; returns READER's value and
   stores the syscall's in *EXPECT.  */
static __attribute__ ((unused)) int
read_cpu_stable (int (*reader) (void), int *expect)
{
  for (int i = 0; i < 100; i++)
    {
      int before = syscall_getcpu (NULL);
      int value = reader ();
      if (syscall_getcpu (NULL) == before)
        {
          *expect = before;
          return value;
        }
    }
  *expect = -3;
  return -4;
}

/* The CPUs this process may run on, as a 1024-bit mask.  */
static __attribute__ ((unused)) int
allowed_cpus (unsigned long mask[16])
{
  for (int i = 0; i < 16; i++)
    mask[i] = 0;
  long r = syscall (SYS_sched_getaffinity, 0, 16 * sizeof (unsigned long), mask);
  return r > 0 ? 0 : -1;
}

static __attribute__ ((unused)) int
pin_to_cpu (int cpu)
{
  unsigned long mask[16] = { 0 };
  mask[cpu / 64] = 1UL << (cpu % 64);
  return (int) syscall (SYS_sched_setaffinity, 0, sizeof mask, mask);
}

static __attribute__ ((unused)) int
env_int (const char *name, int fallback)
{
  const char *v = getenv (name);
  return v && *v ? atoi (v) : fallback;
}

/* A spin-wait hint inside busy loops (holding a lock a little longer, so
   that others contend): the architecture's pause instruction.  */
static inline __attribute__ ((unused)) void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __asm__ volatile ("pause");
#elif defined(__aarch64__)
  /* Not yield: qemu's TCG ends the vCPU's time slice at each yield, which
     made the lock tests' spin loops about 100 times slower in the guests
     (tests/arch-guests).  isb is a delay of its own on hardware.  */
  __asm__ volatile ("isb" ::: "memory");
#else
  __asm__ volatile ("" ::: "memory");
#endif
}

static __attribute__ ((unused)) void
report_and_exit (const char *name)
{
  printf ("%s: %d passed, %d failed\n", name, checks_passed, checks_failed);
  fflush (stdout);
  _exit (checks_failed ? 1 : 0);
}

#endif
