/* The registration length, and the kernel-owned fields (run inside every
   kernel of tests/kernels/matrix.sh).

   check (default): the thread's area is registered with the length the
   kernel calls for: its AT_RSEQ_FEATURE_SIZE when that exceeds 32 (and the
   area is aligned to AT_RSEQ_ALIGN), else 32.  Linux 7.1+ runs a
   registration longer than 32 bytes in its optimized "V2" mode, where a
   user write to cpu_id_start, cpu_id, node_id or mm_cid kills the process
   at the next ID update; so threads that use every per-CPU operation, use
   case and API call, migrating between CPUs and unregistering and
   registering again, must survive, with exact totals.  The length is read
   back from the kernel: re-registering the same area answers EBUSY only
   for the registered length (EINVAL for any other).
     EXPECT_OWNER   1 libc, 2 component
     EXPECT_LEN     the registered length (default: computed as above)

   write (negative control): writes cpu_id_start while registered, then
   migrates; prints "survived the write" and exits 0 if the kernel let it
   live (legacy mode), else the kernel kills it with SIGSEGV (V2 mode).  */
#include "check.h"
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <rseq-libc.h>
#include <rseq-percpu.h>

#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE 27
#define AT_RSEQ_ALIGN 28
#endif

static int ncpus;
static int iters;

static long
sys_rseq (void *area, unsigned int len, int flags, unsigned int sig)
{
  return syscall (SYS_rseq, area, len, flags, sig);
}

/* EBUSY for the registered (area, length, signature), else the errno.  */
static int
probe_len (struct rseq *area, unsigned int len)
{
  return sys_rseq (area, len, 0, RSEQ_SIG) == 0 ? 0 : errno;
}

static void
check_fields (const char *where)
{
  struct rseq *a = rseq_libc_area ();
  CHECK (a != NULL, "%s: no area", where);
  if (!a)
    return;
  /* Only reads: the kernel owns these.  */
  unsigned int start = __atomic_load_n (&a->cpu_id_start, __ATOMIC_RELAXED);
  int cpu = (int) __atomic_load_n (&a->cpu_id, __ATOMIC_RELAXED);
  CHECK (cpu >= 0 && cpu < 1024 && start < 1024, "%s: cpu_id %d cpu_id_start %u", where,
         cpu, start);
}

static uint64_t *percpu_words; /* 256 slots of 8 words, cpu_id then mm_cid */
static uint64_t fallback_adds;
static void *counter;

static void
one_round (int i)
{
  if (i % 16 == 0)
    pin_to_cpu ((i / 16) % ncpus);
  rseq_percpu_counter_inc (counter);
  for (int mode = RSEQ_PERCPU_CPU_ID; mode <= RSEQ_PERCPU_MM_CID; mode++)
    {
      for (;;)
        {
          int idx = rseq_percpu_current_index (mode);
          if (idx < 0 || idx >= 256)
            {
              __atomic_fetch_add (&fallback_adds, 1, __ATOMIC_RELAXED);
              break;
            }
          int r = rseq_percpu_add (mode, idx, (uintptr_t *) &percpu_words[idx * 8 + mode],
                                   1);
          if (r == RSEQ_PERCPU_DONE)
            break;
          if (r < 0)
            {
              __atomic_fetch_add (&fallback_adds, 1, __ATOMIC_RELAXED);
              break;
            }
        }
    }
  unsigned int c, n;
  CHECK (rseq_libc_current_cpu () >= 0, "current_cpu");
  CHECK (rseq_libc_current_node () >= 0, "current_node");
  CHECK (sched_getcpu () >= 0 && getcpu (&c, &n) == 0, "sched_getcpu/getcpu");
  (void) rseq_libc_current_mm_cid ();
  if (i % 256 == 255 && rseq_libc_owner () == RSEQ_LIBC_OWNER_COMPONENT)
    {
      /* The component's own unregistration and registration paths.  */
      CHECK (rseq_libc_unregister_current_thread () == 0, "unregister");
      CHECK (rseq_libc_register_current_thread () == 0, "register again");
    }
}

static void *
worker (void *arg)
{
  (void) arg;
  check_fields ("worker start");
  for (int i = 0; i < iters; i++)
    one_round (i);
  check_fields ("worker end");
  return NULL;
}

int
main (int argc, char **argv)
{
  setvbuf (stdout, NULL, _IONBF, 0);
  ncpus = (int) sysconf (_SC_NPROCESSORS_ONLN);
  if (ncpus < 1)
    ncpus = 1;
  int expect_owner = env_int ("EXPECT_OWNER", 2);
  unsigned long fs = getauxval (AT_RSEQ_FEATURE_SIZE), align = getauxval (AT_RSEQ_ALIGN);
  struct rseq *area = rseq_libc_area ();
  printf ("kernel feature size %lu, align %lu; owner %d; area %p\n", fs, align,
          rseq_libc_owner (), (void *) area);
  CHECK (rseq_libc_owner () == expect_owner, "owner %d, expected %d", rseq_libc_owner (),
         expect_owner);
  if (!area)
    report_and_exit ("v2check");

  unsigned int want = fs > 32 ? (unsigned int) fs : 32;
  want = (unsigned int) env_int ("EXPECT_LEN", (int) want);
  if (want > 32)
    CHECK (align && (uintptr_t) area % align == 0, "area %p not aligned to %lu",
           (void *) area, align);
  int e = probe_len (area, want);
  CHECK (e == EBUSY, "re-registration with length %u: %s (registered with another length?)",
         want, strerror (e));
  /* The probe tells lengths apart: any other length answers EINVAL.  */
  unsigned int other = want == 32 ? 64 : 32;
  e = probe_len (area, other);
  CHECK (e == EINVAL, "re-registration with length %u: %s, expected EINVAL", other,
         strerror (e));
  printf ("registered length %u (%s mode where the kernel has V2)\n", want,
          want > 32 ? "V2" : "legacy");

  if (argc > 1 && strcmp (argv[1], "write") == 0)
    {
      /* The deliberate violation: the kernel owns cpu_id_start.  */
      volatile unsigned int *p = &area->cpu_id_start;
      *p = 4242;
      for (int i = 0; i < 400; i++)
        {
          pin_to_cpu (i % ncpus);
          sched_yield ();
        }
      printf ("survived the write\n");
      report_and_exit ("v2check write");
    }

  iters = env_int ("V2_ITERS", 3000);
  int nthreads = env_int ("V2_THREADS", 4);
  percpu_words = aligned_alloc (64, 256 * 8 * sizeof (uint64_t));
  memset (percpu_words, 0, 256 * 8 * sizeof (uint64_t));
  counter = aligned_alloc (RSEQ_PERCPU_ALIGN,
                           (rseq_percpu_counter_size () + 63) / 64 * 64);
  CHECK (rseq_percpu_counter_init (counter, rseq_percpu_counter_size (), RSEQ_PERCPU_MM_CID)
           == 0, "counter init");
  pthread_t t[64];
  if (nthreads > 64)
    nthreads = 64;
  for (int i = 0; i < nthreads; i++)
    CHECK (pthread_create (&t[i], NULL, worker, NULL) == 0, "pthread_create");
  worker (NULL);
  for (int i = 0; i < nthreads; i++)
    pthread_join (t[i], NULL);

  uint64_t total = 0, rounds = (uint64_t) iters * (nthreads + 1);
  for (int s = 0; s < 256 * 8; s++)
    total += percpu_words[s];
  CHECK (total + fallback_adds == 2 * rounds, "per-CPU adds %llu + fallback %llu != %llu",
         (unsigned long long) total, (unsigned long long) fallback_adds,
         (unsigned long long) (2 * rounds));
  uint64_t counted = 0;
  CHECK (rseq_percpu_counter_read (counter, &counted) == 0 && counted == rounds,
         "counter %llu, expected %llu", (unsigned long long) counted,
         (unsigned long long) rounds);
  printf ("%llu rounds on %d threads, %llu fallback adds\n", (unsigned long long) rounds,
          nthreads + 1, (unsigned long long) fallback_adds);
  /* The length is unchanged after the component's re-registrations.  */
  e = probe_len (rseq_libc_area (), want);
  CHECK (e == EBUSY, "after the run: re-registration with length %u: %s", want,
         strerror (e));
  report_and_exit ("v2check");
}
