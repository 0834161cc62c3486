/* A program that registers rseq itself, as the kernel's rseq selftests and
   librseq do (they export rseq_register_current_thread) or as tcmalloc
   does (-DLEGACY_ABI: its own __rseq_abi and __rseq_refcount, the legacy
   convention), linked with rseq-libc by the README's plain link line.
   Where the libc does not own registration (glibc.pthread.rseq=0, musl),
   the component must step aside: the program's own registration succeeds
   in the main thread and in new threads (started through the component's
   pthread_create), its area carries the right CPU, and the component
   reports no area of its own (reason RSEQ_LIBC_REASON_APPLICATION) while
   its API stays correct.  EXPECT_OWNER=1 (control, glibc registers): the
   component adopts glibc's area and the program's own registration is
   refused by the kernel, as it would be for any second registration.  */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <rseq-libc.h>

#define OWN_SIG 0x53053053

#ifdef LEGACY_ABI
__thread struct rseq __rseq_abi
  __attribute__ ((weak, tls_model ("initial-exec"), aligned (32)))
  = { .cpu_id = (uint32_t) -1 };
__thread unsigned int __rseq_refcount __attribute__ ((weak, tls_model ("initial-exec")));
# define OWN_AREA (&__rseq_abi)
#else
static __thread struct rseq own_area
  __attribute__ ((tls_model ("initial-exec"), aligned (32))) = { .cpu_id = (uint32_t) -1 };
# define OWN_AREA (&own_area)
#endif

static int expect_owner;

/* 0 on success, else the errno of the program's own registration.  */
#ifdef LEGACY_ABI
static int
register_own (void)
{
  if (__rseq_refcount++ > 0)
    return 0;
  if (syscall (SYS_rseq, OWN_AREA, 32, 0, OWN_SIG) == 0)
    return 0;
  __rseq_refcount--;
  return errno;
}
#else
int rseq_register_current_thread (void);
int
rseq_register_current_thread (void)
{
  return syscall (SYS_rseq, OWN_AREA, 32, 0, OWN_SIG) == 0 ? 0 : errno;
}
# define register_own rseq_register_current_thread
#endif

static int
own_area_on_right_cpu (void)
{
  for (int i = 0; i < 100; i++)
    {
      int a = (int) __atomic_load_n (&OWN_AREA->cpu_id, __ATOMIC_RELAXED);
      int s = syscall_getcpu (NULL);
      int b = (int) __atomic_load_n (&OWN_AREA->cpu_id, __ATOMIC_RELAXED);
      if (a < 0 || b < 0)
        return 0;
      if (a == b && a == s)
        return 1;
    }
  return 0;
}

static void
check_thread (const char *who)
{
  int r = register_own ();
  if (expect_owner == 1)
    {
      CHECK (r == EBUSY || r == EINVAL, "%s: own registration beside glibc's: %d", who, r);
      CHECK (rseq_libc_owner () == 1, "%s: owner %d", who, rseq_libc_owner ());
      return;
    }
  CHECK (r == 0, "%s: the program's own registration failed: %s", who, strerror (r));
  CHECK (own_area_on_right_cpu (), "%s: own area cpu_id %d", who, (int) OWN_AREA->cpu_id);
  CHECK (rseq_libc_owner () == RSEQ_LIBC_OWNER_NONE
         && rseq_libc_none_reason () == RSEQ_LIBC_REASON_APPLICATION,
         "%s: owner %d reason %d", who, rseq_libc_owner (), rseq_libc_none_reason ());
  CHECK (rseq_libc_register_current_thread () == -EBUSY, "%s: explicit registration %d", who,
         rseq_libc_register_current_thread ());
  int expect, got = read_cpu_stable (rseq_libc_current_cpu, &expect);
  CHECK (got == expect, "%s: rseq_libc_current_cpu %d, getcpu %d", who, got, expect);
}

static void *
thread_main (void *arg)
{
  check_thread ((const char *) arg);
  return NULL;
}

int
main (void)
{
  expect_owner = env_int ("EXPECT_OWNER", 0);
  check_thread ("main");
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    CHECK (pthread_create (&t[i], NULL, thread_main, (void *) "thread") == 0, "create");
  for (int i = 0; i < 4; i++)
    pthread_join (t[i], NULL);
  report_and_exit ("self-registering");
}
