/* The host test: the same source runs in every host (glibc dynamic and
   static, with and without glibc's own registration, musl static, rseq
   unavailable, the standalone libc).  The harness states what the host
   should show through the environment:
     EXPECT_OWNER          0 none, 1 libc, 2 component
     EXPECT_RSEQ_SIZE      what this program's __rseq_size should read
     EXPECT_FEATURE_SIZE   the kernel's AT_RSEQ_FEATURE_SIZE (0 if absent)
   Built with -DWITH_HOSTLIB in dynamic hosts, where a DT_NEEDED library's
   constructor is checked too.  */
#include "check.h"
#include "seccomp.h"
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <rseq-libc.h>

extern __thread struct rseq __rseq_abi;

#ifdef WITH_HOSTLIB
int hostlib_ctor_cpu_id (void);
int hostlib_direct_cpu_id (void);
#endif

static int expect_owner, expect_rseq_size, expect_feature_size;

/* The area through the published symbols alone, no API call: glibc's when
   it registered, the component's otherwise (its __rseq_size is the feature
   size; a static glibc keeps its own __rseq_size at 0, and then the
   component's area is the legacy __rseq_abi).  */
static int
direct_cpu_id (void)
{
  if (__rseq_size > 0)
    return (int) ((struct rseq *) ((char *) __builtin_thread_pointer ()
                                   + __rseq_offset))->cpu_id;
  return (int) __rseq_abi.cpu_id;
}

static int
api_cpu (void)
{
  return rseq_libc_current_cpu ();
}

static int
glibc_style_sched_getcpu (void)
{
  return sched_getcpu ();
}

/* What each phase saw: the direct cpu_id and the syscall's cpu.  */
struct seen { int cpu_id, expect; };
static struct seen seen_ctor_default, seen_ctor_101, seen_signal,
  seen_atexit, seen_dtor;
#ifdef WITH_HOSTLIB
static int seen_hostlib_ctor;
#endif

static void
record (struct seen *s)
{
  s->cpu_id = read_cpu_stable (direct_cpu_id, &s->expect);
}

/* Registered means: the area says the CPU the kernel says.  Not
   registered (owner none) means cpu_id is -1 or -2, never a CPU.  */
static void
check_seen (const char *phase, struct seen *s)
{
  if (expect_owner != RSEQ_LIBC_OWNER_NONE)
    CHECK (s->cpu_id == s->expect, "%s: cpu_id %d, getcpu %d", phase,
           s->cpu_id, s->expect);
  else
    CHECK (s->cpu_id == -1 || s->cpu_id == -2, "%s: cpu_id %d without rseq",
           phase, s->cpu_id);
}

__attribute__ ((constructor (101))) static void
ctor_101 (void)
{
  /* Read the environment here too: constructors run before main.  */
  expect_owner = env_int ("EXPECT_OWNER", -1);
  record (&seen_ctor_101);
#ifdef WITH_HOSTLIB
  seen_hostlib_ctor = hostlib_ctor_cpu_id ();
#endif
}

__attribute__ ((constructor)) static void
ctor_default (void)
{
  record (&seen_ctor_default);
}

static void
on_signal (int sig)
{
  (void) sig;
  record (&seen_signal);
}

static void
on_atexit (void)
{
  record (&seen_atexit);
}

/* Destructors run after atexit handlers in every host; priority 101 runs
   last of all, so it reports.  */
__attribute__ ((destructor (101))) static void
dtor_report (void)
{
  record (&seen_dtor);
  check_seen ("atexit handler", &seen_atexit);
  check_seen ("destructor", &seen_dtor);
  report_and_exit ("host_test");
}

static void
check_owner_and_sizes (void)
{
  int owner = rseq_libc_owner ();
  CHECK (owner == expect_owner, "owner %d, expected %d (reason %d, error %d)",
         owner, expect_owner, rseq_libc_none_reason (),
         rseq_libc_registration_error ());
  CHECK (__rseq_size == (unsigned) expect_rseq_size, "__rseq_size %u, expected %d",
         __rseq_size, expect_rseq_size);
  CHECK (__rseq_flags == 0, "__rseq_flags %u", __rseq_flags);
  unsigned kfs = rseq_libc_kernel_feature_size ();
  CHECK (kfs == (unsigned) (expect_feature_size ? expect_feature_size : 20),
         "kernel feature size %u, auxv says %d", kfs, expect_feature_size);
  unsigned fs = rseq_libc_feature_size ();
  if (owner == RSEQ_LIBC_OWNER_NONE)
    {
      CHECK (fs == 0, "feature size %u without an area", fs);
      CHECK (rseq_libc_area () == NULL, "area without registration");
      CHECK (rseq_libc_none_reason () == RSEQ_LIBC_REASON_UNAVAILABLE,
             "reason %d", rseq_libc_none_reason ());
      CHECK (rseq_libc_registration_error () == -ENOSYS, "error %d",
             rseq_libc_registration_error ());
      CHECK (rseq_libc_current_mm_cid () == -ENOSYS, "mm_cid without rseq");
    }
  else
    {
      /* The component registers max (32, feature size).  glibc up to 2.40
         registers 32 bytes (and publishes 20 or 32): on Linux 7.0+
         (feature size 33) the kernel fills only 32 of them.  glibc 2.41+
         registers max (32, feature size) and publishes the feature size,
         so a published size above 32 means all of it is filled.  */
      unsigned want = owner == RSEQ_LIBC_OWNER_COMPONENT || kfs < 32 || __rseq_size > 32
                      ? kfs : 32;
      CHECK (fs == want, "feature size %u, expected %u", fs, want);
      CHECK (rseq_libc_none_reason () == RSEQ_LIBC_REASON_REGISTERED, "reason");
      struct rseq *area = rseq_libc_area ();
      CHECK (area != NULL, "no area");
      if (area && __rseq_size > 0)
        CHECK ((char *) area == (char *) __builtin_thread_pointer () + __rseq_offset,
               "area %p is not at tp + __rseq_offset", (void *) area);
      /* The component registers its TLS __rseq_abi, unless the host
         reserved an area itself (the standalone libc): then it publishes
         that one in __rseq_size/__rseq_offset, checked above.  */
      if (area && owner == RSEQ_LIBC_OWNER_COMPONENT && __rseq_size == 0)
        CHECK (area == &__rseq_abi, "component area is not __rseq_abi");
      if (fs >= 28)
        {
          int cid = rseq_libc_current_mm_cid ();
          CHECK (cid >= 0 && cid < 1024, "mm_cid %d", cid);
        }
    }
}

/* cpu_id, the API and sched_getcpu agree with the getcpu syscall on every
   CPU this process may use; so does the node.  */
static void
check_each_cpu (void)
{
  unsigned long mask[16];
  CHECK (allowed_cpus (mask) == 0, "sched_getaffinity");
  int tried = 0;
  for (int cpu = 0; cpu < 1024; cpu++)
    {
      if (!(mask[cpu / 64] & (1UL << (cpu % 64))))
        continue;
      CHECK (pin_to_cpu (cpu) == 0, "pin to %d", cpu);
      tried++;
      CHECK (syscall_getcpu (NULL) == cpu, "syscall on %d", cpu);
      CHECK (rseq_libc_current_cpu () == cpu, "api %d on %d",
             rseq_libc_current_cpu (), cpu);
      CHECK (sched_getcpu () == cpu, "sched_getcpu %d on %d", sched_getcpu (), cpu);
      unsigned c = 99, n = 99, sn = 0;
      syscall_getcpu (&sn);
      CHECK (getcpu (&c, &n) == 0 && c == (unsigned) cpu && n == sn,
             "getcpu %u/%u on %d/%u", c, n, cpu, sn);
      CHECK (rseq_libc_current_node () == (int) sn, "node");
      if (expect_owner != RSEQ_LIBC_OWNER_NONE)
        CHECK (direct_cpu_id () == cpu, "cpu_id %d on %d", direct_cpu_id (), cpu);
    }
  CHECK (tried > 0, "no allowed cpu");
  /* Back to every allowed CPU.  */
  syscall (SYS_sched_setaffinity, 0, sizeof mask, mask);
}

struct thread_result { int owner, api_ok, direct_ok, sched_ok; };

static void *
thread_main (void *arg)
{
  struct thread_result *r = arg;
  int expect;
  r->owner = rseq_libc_owner ();
  r->api_ok = read_cpu_stable (api_cpu, &expect) == expect;
  r->sched_ok = read_cpu_stable (glibc_style_sched_getcpu, &expect) == expect;
  int d = read_cpu_stable (direct_cpu_id, &expect);
  r->direct_ok = expect_owner == RSEQ_LIBC_OWNER_NONE ? d < 0 : d == expect;
  return NULL;
}

static void
check_threads (void)
{
  enum { N = 8 };
  pthread_t t[N];
  struct thread_result r[N];
  memset (r, 0, sizeof r);
  for (int i = 0; i < N; i++)
    CHECK (pthread_create (&t[i], NULL, thread_main, &r[i]) == 0, "create");
  for (int i = 0; i < N; i++)
    {
      pthread_join (t[i], NULL);
      CHECK (r[i].owner == expect_owner, "thread %d owner %d", i, r[i].owner);
      CHECK (r[i].api_ok && r[i].sched_ok && r[i].direct_ok,
             "thread %d api %d sched %d direct %d", i, r[i].api_ok,
             r[i].sched_ok, r[i].direct_ok);
    }
}

/* Misuse and idempotence, each in a fresh thread so main keeps its area.  */
static void *
api_errors_thread (void *arg)
{
  int *ok = arg;
  int owner = rseq_libc_owner ();
  struct rseq *area = rseq_libc_area ();
  if (owner == RSEQ_LIBC_OWNER_LIBC)
    {
      int r = rseq_libc_unregister_current_thread ();
      ok[0] = r == -EPERM;
      ok[1] = rseq_libc_owner () == RSEQ_LIBC_OWNER_LIBC && rseq_libc_area () == area
              && (int) area->cpu_id >= 0;
    }
  else if (owner == RSEQ_LIBC_OWNER_COMPONENT)
    {
      ok[0] = rseq_libc_unregister_current_thread () == 0
              && rseq_libc_owner () == RSEQ_LIBC_OWNER_NONE
              && rseq_libc_none_reason () == RSEQ_LIBC_REASON_DISABLED
              && rseq_libc_area () == NULL
              && (int) area->cpu_id == RSEQ_CPU_ID_UNINITIALIZED
              && rseq_libc_unregister_current_thread () == 0;
      ok[1] = rseq_libc_current_cpu () >= 0 /* falls back */
              && rseq_libc_register_current_thread () == 0
              && rseq_libc_owner () == RSEQ_LIBC_OWNER_COMPONENT
              && (int) area->cpu_id >= 0 && rseq_libc_area () == area;
    }
  else
    {
      ok[0] = rseq_libc_register_current_thread () == -ENOSYS;
      ok[1] = rseq_libc_unregister_current_thread () == 0;
    }
  /* A second registration makes no system call: with rseq(2) now failing
     with EIO for this thread, it must still answer 0.  */
  if (owner != RSEQ_LIBC_OWNER_NONE)
    {
      int filtered = fail_syscall_with (SYS_rseq, EIO) == 0;
      ok[2] = filtered && rseq_libc_register_current_thread () == 0;
      /* The filter really bites: a registration that needs the syscall
         reports it.  */
      if (owner == RSEQ_LIBC_OWNER_COMPONENT)
        ok[3] = rseq_libc_unregister_current_thread () == -EIO;
      else
        ok[3] = syscall (SYS_rseq, NULL, 0, 0, 0) == -1 && errno == EIO;
    }
  else
    ok[2] = ok[3] = 1;
  return NULL;
}

static void
check_api_errors (void)
{
  int ok[4] = { 0, 0, 0, 0 };
  pthread_t t;
  CHECK (pthread_create (&t, NULL, api_errors_thread, ok) == 0, "create");
  pthread_join (t, NULL);
  CHECK (ok[0], "unregister answer (owner %d)", expect_owner);
  CHECK (ok[1], "state after unregister / re-register");
  CHECK (ok[2], "second registration made a syscall");
  CHECK (ok[3], "seccomp filter did not apply");
}

int
main (void)
{
  expect_owner = env_int ("EXPECT_OWNER", -1);
  expect_rseq_size = env_int ("EXPECT_RSEQ_SIZE", -1);
  expect_feature_size = env_int ("EXPECT_FEATURE_SIZE", -1);
  CHECK (expect_owner >= 0 && expect_rseq_size >= 0 && expect_feature_size >= 0,
         "EXPECT_OWNER, EXPECT_RSEQ_SIZE and EXPECT_FEATURE_SIZE must be set");

  check_seen ("constructor(101)", &seen_ctor_101);
  check_seen ("constructor", &seen_ctor_default);
#ifdef WITH_HOSTLIB
  {
    struct seen lib = { seen_hostlib_ctor, seen_ctor_101.expect };
    /* The library constructor ran before ctor_101; the CPU may differ, so
       only registration is checked: a CPU number, not -1/-2.  */
    if (expect_owner != RSEQ_LIBC_OWNER_NONE)
      CHECK (lib.cpu_id >= 0, "DT_NEEDED constructor: cpu_id %d", lib.cpu_id);
    else
      CHECK (lib.cpu_id == -1 || lib.cpu_id == -2,
             "DT_NEEDED constructor: cpu_id %d without rseq", lib.cpu_id);
    int expect;
    int now = read_cpu_stable (hostlib_direct_cpu_id, &expect);
    if (expect_owner != RSEQ_LIBC_OWNER_NONE)
      CHECK (now == expect, "DT_NEEDED library now: cpu_id %d, getcpu %d", now, expect);
  }
#endif
  check_owner_and_sizes ();
  check_each_cpu ();

  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  CHECK (sigaction (SIGUSR1, &sa, NULL) == 0, "sigaction");
  raise (SIGUSR1);
  check_seen ("signal handler", &seen_signal);

  check_threads ();
  check_api_errors ();
  CHECK (atexit (on_atexit) == 0, "atexit");
  return 0; /* dtor_report prints the result */
}
