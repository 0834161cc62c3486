/* rcutorture-style test of the C RCU (headers/rseq-percpu.h, and with
   -DRCU_INLINE the read side of headers/rseq-percpu-inline.h).

   Readers (3 per CPU, plus a SIGUSR1 storm whose handler runs a read
   section too) enter a section, load the current object, check that it is
   not poisoned (every 8th section nested); writers replace the object,
   then retire the old one after a grace period, alternately by
   rseq_percpu_rcu_synchronize and by rseq_percpu_rcu_call, and poison it
   (objects are never freed during the run: a reader that still holds a
   retired object reads the poison, it does not crash).  Readers migrate
   between CPUs every 512 sections.

   The witness rounds force the overlap a correct grace period must wait
   for: a witness thread holds a section with the current object while a
   writer retires it; the witness leaves when the writer reports the object
   retired or after 20 ms (with a correct grace period the report cannot
   come while the witness is inside: the writer is still waiting), then
   checks the object.  In the negative-control builds the witness waits for
   the report only, so that the broken grace period is caught every time:
     -DBROKEN_SYNC    synchronize returns at once (and call runs the
                      callback at once): a grace period that ends early;
     -DBROKEN_READER  the readers skip read_lock/read_unlock.
   Both must make this test FAIL.

   With -DINJECT the inline sections carry the stress hooks (as the kernel's
   param_test): a delay loop, and an int3 before the commit in every 32nd
   section, whose SIGTRAP the kernel aborts the section on.

   Writers retire at least --gps objects each (default 2000), and go on
   until the readers ran 200000 sections.

   A constructor runs nested read sections and a grace period before main.

   Usage: rcu_torture [--mm-cid] [--gps N] [--no-membarrier]
   [--expect-fenced].  --no-membarrier installs, in main, a seccomp filter
   making membarrier fail with ENOSYS: the process registered for it in
   the constructor, so readers stay fence-free and the writer visits every
   CPU instead.  --expect-fenced: membarrier was refused from the start
   (tests/rcu/no_membarrier_launcher.c), readers must be fenced.  Ends
   with "N passed, N failed".  */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "seccomp.h"

#ifdef INJECT
static volatile int inject_delay = 20;
static __thread int inject_trap;
static __thread unsigned inject_n;
static volatile long traps;
# define RSEQ_PERCPU_INLINE_INJECT_INPUT                              \
  , [inj_delay] "m" (inject_delay), [inj_trap] "m" (inject_trap)
# define RSEQ_PERCPU_INLINE_INJECT_CLOBBER , "eax"
# define INJECT_DELAY                                                 \
  "movl %[inj_delay], %%eax\n\t"                                      \
  "testl %%eax, %%eax\n\t"                                            \
  "jz 101f\n\t"                                                       \
  "100:\n\t"                                                          \
  "decl %%eax\n\t"                                                    \
  "jnz 100b\n\t"                                                      \
  "101:\n\t"
# define INJECT_AT_1 INJECT_DELAY
# define INJECT_AT_2                                                  \
  INJECT_DELAY                                                        \
  "cmpl $0, %[inj_trap]\n\t"                                          \
  "je 102f\n\t"                                                       \
  "int3\n\t"                                                          \
  "102:\n\t"
# define RSEQ_PERCPU_INLINE_INJECT_ASM(n) INJECT_AT_##n
/* Arms the int3 of every 32nd inline section of the thread.  */
# define ARM() (inject_trap = (++inject_n % 32) == 0)
#else
# define ARM() ((void) 0)
#endif
static __thread long thread_aborts;
#define RSEQ_PERCPU_INLINE_ON_ABORT() (thread_aborts++)
#include <rseq-percpu-inline.h>

#ifdef RCU_INLINE
# define LOCK(r) (ARM (), rseq_percpu_inline_rcu_read_lock (r))
# define UNLOCK(r, p) (ARM (), rseq_percpu_inline_rcu_read_unlock (r, p))
#else
# define LOCK(r) rseq_percpu_rcu_read_lock (r)
# define UNLOCK(r, p) rseq_percpu_rcu_read_unlock (r, p)
#endif
#ifdef BROKEN_READER
# undef LOCK
# undef UNLOCK
# define LOCK(r) ((void) (r), 0)
# define UNLOCK(r, p) unlock_nothing (r, p)
static int
unlock_nothing (void *r, int p)
{
  (void) r;
  (void) p;
  return 0;
}
#endif

#define LIVE 0x1111222233334444ULL
#define POISON 0xdeaddeaddeaddeadULL

struct obj
{
  struct rseq_percpu_rcu_head head; /* first: the callback's pointer */
  volatile uint64_t magic;
};

static void *rcu;
static struct obj *_Atomic current;
static volatile int stop;
static long bad_reads, bad_calls;
static int checks_passed, checks_failed;

static void
check (int ok, const char *what)
{
  if (ok)
    checks_passed++;
  else
    {
      checks_failed++;
      printf ("FAIL %s\n", what);
    }
}

static void
sync_rcu (void)
{
#ifdef BROKEN_SYNC
  return;
#else
  int r = rseq_percpu_rcu_synchronize (rcu);
  if (r != 0)
    __atomic_fetch_add (&bad_calls, 1, __ATOMIC_RELAXED);
#endif
}

static void
poison_cb (struct rseq_percpu_rcu_head *h)
{
  ((struct obj *) h)->magic = POISON;
}

static void
retire_by_call (struct obj *o)
{
#ifdef BROKEN_SYNC
  poison_cb (&o->head);
#else
  if (rseq_percpu_rcu_call (rcu, &o->head, poison_cb) != 0)
    __atomic_fetch_add (&bad_calls, 1, __ATOMIC_RELAXED);
#endif
}

static struct obj *
new_obj (void)
{
  struct obj *o = calloc (1, sizeof *o);
  if (!o)
    abort ();
  o->magic = LIVE;
  return o;
}

/* One read section: returns 1 when the object held was poisoned.  */
static int
read_section (int nest)
{
  int p = LOCK (rcu);
  int q = nest ? LOCK (rcu) : 0;
  if (p < 0 || q < 0)
    __atomic_fetch_add (&bad_calls, 1, __ATOMIC_RELAXED);
  struct obj *o = __atomic_load_n (&current, __ATOMIC_ACQUIRE);
  for (int i = 0; i < 20; i++)
    __asm__ volatile ("" ::: "memory");
  int bad = o->magic != LIVE;
  if (nest && UNLOCK (rcu, q) != 0)
    __atomic_fetch_add (&bad_calls, 1, __ATOMIC_RELAXED);
  if (UNLOCK (rcu, p) != 0)
    __atomic_fetch_add (&bad_calls, 1, __ATOMIC_RELAXED);
  return bad;
}

static volatile long signal_sections;

static void
on_sigusr1 (int sig)
{
  (void) sig;
  int saved = errno;
  if (read_section (0))
    __atomic_fetch_add (&bad_reads, 1, __ATOMIC_RELAXED);
  signal_sections++;
  errno = saved;
}

#ifdef INJECT
static void
on_sigtrap (int sig)
{
  (void) sig;
  inject_trap = 0;
  __atomic_fetch_add (&traps, 1, __ATOMIC_RELAXED);
}
#endif

static int ncpus;
static int cpus[1024];
static int gps = 2000;
/* Writers go on until the readers ran this many sections too.  */
static long min_sections = 200000;
static long sections_total;
static unsigned long writer_requests;

static void *
reader (void *arg)
{
  long n = 0, id = (long) arg;
  while (!__atomic_load_n (&stop, __ATOMIC_RELAXED))
    {
      if (read_section (n % 8 == 0))
        __atomic_fetch_add (&bad_reads, 1, __ATOMIC_RELAXED);
      if (++n % 512 == 0)
        __atomic_fetch_add (&sections_total, 512, __ATOMIC_RELAXED);
      if (n % 512 == 0 && ncpus > 1)
        {
          cpu_set_t set;
          CPU_ZERO (&set);
          CPU_SET (cpus[(n / 512 + id) % ncpus], &set);
          sched_setaffinity (0, sizeof set, &set);
        }
    }
  return (void *) n;
}

static int no_membarrier, expect_fenced;

static void *
writer (void *arg)
{
  long id = (long) arg;
  for (long i = 0; i < gps
       || __atomic_load_n (&sections_total, __ATOMIC_RELAXED) < min_sections; i++)
    {
      struct obj *old = __atomic_exchange_n (&current, new_obj (), __ATOMIC_ACQ_REL);
      __atomic_fetch_add (&writer_requests, 1, __ATOMIC_RELAXED);
      if ((i + id) % 2 == 0)
        {
          sync_rcu ();
          old->magic = POISON;
        }
      else
        retire_by_call (old);
    }
  return NULL;
}

static pthread_t readers[64];
static int nreaders;

static void *
signaller (void *arg)
{
  (void) arg;
  struct timespec ts = { 0, 200000 };
  for (long k = 0; !__atomic_load_n (&stop, __ATOMIC_RELAXED); k++)
    {
      pthread_kill (readers[k % nreaders], SIGUSR1);
      nanosleep (&ts, NULL);
    }
  return NULL;
}

/* ---- witness rounds ---- */

static struct obj *_Atomic witness_holds;
static struct obj *_Atomic retired;

static __attribute__ ((unused)) double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void *
witness (void *arg)
{
  (void) arg;
  int p = LOCK (rcu);
  struct obj *o = __atomic_load_n (&current, __ATOMIC_ACQUIRE);
  __atomic_store_n (&witness_holds, o, __ATOMIC_RELEASE);
#if defined(BROKEN_SYNC) || defined(BROKEN_READER)
  /* The broken grace period does not wait for this section: the report
     comes; wait for it.  */
  while (__atomic_load_n (&retired, __ATOMIC_ACQUIRE) != o)
    sched_yield ();
#else
  /* A correct grace period waits for this section: the report cannot come;
     leave after 20 ms (the result does not depend on how long).  */
  double end = now () + 0.02;
  while (__atomic_load_n (&retired, __ATOMIC_ACQUIRE) != o && now () < end)
    {
      struct timespec ts = { 0, 1000000 };
      nanosleep (&ts, NULL);
    }
#endif
  long bad = o->magic != LIVE;
  if (UNLOCK (rcu, p) != 0)
    bad = 1;
  return (void *) bad;
}

static int
witness_round (int by_call)
{
  pthread_t w;
  __atomic_store_n (&witness_holds, NULL, __ATOMIC_RELAXED);
  pthread_create (&w, NULL, witness, NULL);
  while (__atomic_load_n (&witness_holds, __ATOMIC_ACQUIRE) == NULL)
    sched_yield ();
  struct obj *old = __atomic_exchange_n (&current, new_obj (), __ATOMIC_ACQ_REL);
  if (by_call)
    {
      retire_by_call (old);
#ifndef BROKEN_SYNC
      rseq_percpu_rcu_barrier (rcu);
#endif
    }
  else
    {
      sync_rcu ();
      old->magic = POISON;
    }
  __atomic_store_n (&retired, old, __ATOMIC_RELEASE);
  void *bad;
  pthread_join (w, &bad);
  return bad != NULL;
}

/* A read section and a grace period in a constructor, before main: readers
   need no registration, nor does the writer.  */
static int ctor_ok = -1;

__attribute__ ((constructor)) static void
before_main (void)
{
  void *r = aligned_alloc (RSEQ_PERCPU_ALIGN, rseq_percpu_rcu_size ());
  uint64_t inside = 99, after = 99;
  int ok = r && rseq_percpu_rcu_init (r, rseq_percpu_rcu_size (), RSEQ_PERCPU_CPU_ID) == 0;
  if (ok)
    {
      int p = rseq_percpu_inline_rcu_read_lock (r);
      int q = rseq_percpu_rcu_read_lock (r); /* nested, through the call */
      ok = p >= 0 && q >= 0 && rseq_percpu_rcu_readers (r, &inside) == 0 && inside == 2;
      ok = ok && rseq_percpu_rcu_read_unlock (r, q) == 0
           && rseq_percpu_inline_rcu_read_unlock (r, p) == 0;
      ok = ok && rseq_percpu_rcu_synchronize (r) == 0
           && rseq_percpu_rcu_readers (r, &after) == 0 && after == 0;
    }
  ctor_ok = ok;
}

static void
test_bad_input (void)
{
  static char small[64] __attribute__ ((aligned (64)));
  check (rseq_percpu_rcu_init (NULL, 1 << 20, 0) == -EINVAL, "init null");
  check (rseq_percpu_rcu_init (small, sizeof small, 0) == -EINVAL, "init small");
  check (rseq_percpu_rcu_init ((char *) rcu + 8, rseq_percpu_rcu_size (), 0) == -EINVAL,
         "init misaligned");
  check (rseq_percpu_rcu_init (rcu, rseq_percpu_rcu_size (), 7) == -EINVAL, "init mode");
  check (rseq_percpu_rcu_init (rcu, rseq_percpu_rcu_size (), 0x100) == -EINVAL,
         "init shared refused");
  check (rseq_percpu_rcu_read_lock (NULL) == -EINVAL, "read_lock null");
  check (rseq_percpu_rcu_read_lock ((char *) rcu + 1) == -EINVAL, "read_lock misaligned");
  check (rseq_percpu_rcu_read_unlock (rcu, 2) == -EINVAL, "read_unlock period 2");
  check (rseq_percpu_rcu_read_unlock (rcu, -1) == -EINVAL, "read_unlock period -1");
  check (rseq_percpu_inline_rcu_read_unlock (rcu, 5) == -EINVAL, "inline unlock period 5");
  check (rseq_percpu_inline_rcu_read_lock (NULL) == -EINVAL, "inline lock null");
  check (rseq_percpu_rcu_synchronize (NULL) == -EINVAL, "synchronize null");
  check (rseq_percpu_rcu_barrier (NULL) == -EINVAL, "barrier null");
  struct rseq_percpu_rcu_head h;
  check (rseq_percpu_rcu_call (rcu, NULL, poison_cb) == -EINVAL, "call null head");
  check (rseq_percpu_rcu_call (rcu, &h, NULL) == -EINVAL, "call null func");
  check (rseq_percpu_rcu_call (NULL, &h, poison_cb) == -EINVAL, "call null rcu");
  check (rseq_percpu_rcu_readers (rcu, NULL) == -EINVAL, "readers null out");
  uint64_t inside = 99;
  check (rseq_percpu_rcu_readers (rcu, &inside) == 0 && inside == 0, "no reader inside");
}

int
main (int argc, char **argv)
{
  int mode = RSEQ_PERCPU_CPU_ID;
  for (int i = 1; i < argc; i++)
    if (!strcmp (argv[i], "--mm-cid"))
      mode = RSEQ_PERCPU_MM_CID;
    else if (!strcmp (argv[i], "--gps") && i + 1 < argc)
      gps = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--expect-fenced"))
      expect_fenced = 1;
    else if (!strcmp (argv[i], "--no-membarrier"))
      {
        no_membarrier = 1;
        if (fail_syscall_with (SYS_membarrier, ENOSYS) != 0)
          {
            perror ("seccomp");
            return 2;
          }
      }
  cpu_set_t all;
  sched_getaffinity (0, sizeof all, &all);
  for (int c = 0; c < 1024; c++)
    if (CPU_ISSET (c, &all))
      cpus[ncpus++] = c;
  rcu = aligned_alloc (RSEQ_PERCPU_ALIGN, rseq_percpu_rcu_size ());
  int r = rseq_percpu_rcu_init (rcu, rseq_percpu_rcu_size (), mode);
  if (r == -EOPNOTSUPP || (r == 0 && mode == RSEQ_PERCPU_MM_CID
                           && rseq_percpu_inline_current_index (mode) == -EOPNOTSUPP))
    printf ("mm_cid unsupported: cpu_id instead\n");
  check (r == 0, "init");
  /* The readers' path the run exercises: fence-free, or fenced when the
     process cannot use membarrier (the period word's FENCED bit).  */
  uintptr_t period_word = __atomic_load_n ((uintptr_t *) ((char *) rcu + RSEQ_PERCPU_INLINE_RCU_PERIOD),
                                           __ATOMIC_RELAXED);
  check (!(period_word & RSEQ_PERCPU_INLINE_RCU_FENCED) == !expect_fenced,
         expect_fenced ? "membarrier refused from the start: readers fenced"
                       : "membarrier registered: readers fence-free");
  current = new_obj ();
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_sigusr1;
  sa.sa_flags = SA_RESTART;
  sigaction (SIGUSR1, &sa, NULL);
#ifdef INJECT
  sa.sa_handler = on_sigtrap;
  sigaction (SIGTRAP, &sa, NULL);
#endif
  printf ("rcu torture: %s, %s read side%s%s, area %s, %d CPUs\n",
          mode ? "mm_cid" : "cpu_id",
#ifdef RCU_INLINE
          "inline",
#else
          "call",
#endif
#ifdef INJECT
          ", injected aborts",
#else
          "",
#endif
#if defined(BROKEN_SYNC)
          ", NEGATIVE CONTROL: synchronize returns early",
#elif defined(BROKEN_READER)
          ", NEGATIVE CONTROL: readers skip the lock",
#else
          "",
#endif
          rseq_percpu_inline_current_index (RSEQ_PERCPU_CPU_ID) >= 0 ? "yes" : "no",
          ncpus);
  test_bad_input ();
  check (ctor_ok == 1, "constructor: nested read sections and a grace period before main");

  int wbad = 0;
  for (int i = 0; i < 4; i++)
    wbad += witness_round (i % 2);
  check (wbad == 0, "witness rounds: a retired object was poisoned inside a section");
  printf ("witness rounds: %d of 4 saw their object poisoned\n", wbad);

  nreaders = 3 * ncpus;
  if (nreaders > 64)
    nreaders = 64;
  for (long i = 0; i < nreaders; i++)
    pthread_create (&readers[i], NULL, reader, (void *) i);
  pthread_t sig, writers[2];
  pthread_create (&sig, NULL, signaller, NULL);
  for (long i = 0; i < 2; i++)
    pthread_create (&writers[i], NULL, writer, (void *) i);
  for (int i = 0; i < 2; i++)
    pthread_join (writers[i], NULL);
  rseq_percpu_rcu_barrier (rcu);
  __atomic_store_n (&stop, 1, __ATOMIC_RELAXED);
  pthread_join (sig, NULL);
  long sections = 0;
  for (int i = 0; i < nreaders; i++)
    {
      void *n;
      pthread_join (readers[i], &n);
      sections += (long) n;
    }
  uint64_t inside = 1;
  rseq_percpu_rcu_readers (rcu, &inside);
  printf ("torture: %ld reader sections, %ld in signal handlers, %lu grace periods "
          "requested, %ld poisoned reads, %ld failed calls"
#ifdef INJECT
          ", %ld forced aborts (SIGTRAP)"
#endif
          "\n",
          sections, (long) signal_sections, writer_requests, bad_reads, bad_calls
#ifdef INJECT
          , (long) traps
#endif
          );
  check (bad_reads == 0, "torture: a reader held a poisoned object");
  check (bad_calls == 0, "torture: a call failed");
  check (inside == 0, "torture: readers inside after all left");
#if defined(INJECT) && defined(RCU_INLINE) && !defined(BROKEN_READER)
  /* Forced: every 32nd inline section of a thread with an area traps
     (fenced readers, with membarrier refused from the start, take the
     calls instead).  */
  if (rseq_percpu_inline_current_index (RSEQ_PERCPU_CPU_ID) >= 0 && !expect_fenced)
    check (traps > 0, "injected aborts taken");
#endif
  printf ("%d passed, %d failed\n", checks_passed, checks_failed);
  return checks_failed != 0;
}
