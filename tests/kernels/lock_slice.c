/* The spin lock's time-slice extension (rseq_percpu_spinlock_*: a holder
   has an extension requested while it holds the lock), run by
   tests/kernels/slice.sh inside qemu guests.

   Hammer (every kernel): LOCK_THREADS threads (default 8, more than the
   guest's 2 CPUs) take one lock for LOCK_MS, each section a plain
   read-modify-write of a shared counter around a busy loop of LOCK_SECTION_US
   (calibrated here, no system call inside), so that the timer tick finds
   holders inside sections.  Hard checks: the counter equals the sections
   counted per thread (exclusion), slice_ctrl is all zero after every unlock
   and request and granted are never both set inside a section (protocol),
   the lock's counters agree with the holds: slice requested == holds where
   the extension is offered (EXPECT_SLICE=1), requested == granted == 0
   where it is not (EXPECT_SLICE=0), granted <= requested, and with the
   kernel's debugfs rseq/stats, granted <= the kernel's grants and the
   kernel's in-grant yields <= granted (nothing else in the guest requests).
   How many holds were granted (holder preemptions avoided) is information.

   Forced (EXPECT_SLICE=1): the thread, pinned to one CPU with a busy
   thread pinned to the same CPU, takes a lock and spins inside the section
   (no system call) until the kernel either grants the extension or
   schedules it out without one (the kernel clears the control then), then
   unlocks; repeated until the lock's own counter shows LOCK_FORCED grants
   (default 20), within LOCK_SECONDS (60, a bound, not a timing: the
   scheduler must take the CPU for the busy thread, and a reschedule on
   return from the tick with a request armed is a grant).  A grant the
   kernel revokes before unlock looks (the host descheduled the vCPU past
   the 50 us extension) is not counted by the lock and the loop goes on.

   LOCK_FAKE=off (negative control): the extension is switched off with
   prctl before the lock runs, with EXPECT_SLICE=1: the forced grants and
   the requested count must fail.

   Prints one "LOCKSLICE" line with the figures.  */
#include "check.h"
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <time.h>
#include <rseq-libc.h>
#include <rseq-percpu.h>

#define PR_SLICE 79
#define PR_SLICE_SET 2

static int expect_slice, expect_owner;

static volatile uint8_t *
ctrl_of (struct rseq *a)
{
  /* struct rseq_slice_ctrl: request at 28, granted at 29.  */
  return (volatile uint8_t *) a + 28;
}

static uint32_t
ctrl_all (struct rseq *a)
{
  return a ? __atomic_load_n ((uint32_t *) ctrl_of (a), __ATOMIC_RELAXED) : 0;
}

/* Request and granted as one load (little-endian: request is the low
   byte): read one at a time, a grant between the two reads (the kernel
   sets granted and clears request in one store) would look like both set
   (seen once in 249,568 sections).  */
static int
ctrl_both_set (struct rseq *a)
{
  uint32_t c = ctrl_all (a);
  return (c & 0xff) != 0 && ((c >> 8) & 0xff) != 0;
}

static double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* ---- kernel statistics (debugfs rseq/stats, CONFIG_RSEQ_STATS) ---------- */

struct kstats { long grant, yield, revok, expir; int ok; };

static struct kstats
read_kstats (void)
{
  struct kstats s = { 0 };
  char buf[1024];
  int fd = open ("/sys/kernel/debug/rseq/stats", O_RDONLY);
  if (fd < 0)
    return s;
  ssize_t n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return s;
  buf[n] = 0;
  static const char *keys[] = { "sgrant:", "syield:", "srevok:", "sexpir:" };
  long *vals[] = { &s.grant, &s.yield, &s.revok, &s.expir };
  int found = 0;
  for (int i = 0; i < 4; i++)
    {
      char *p = strstr (buf, keys[i]);
      if (p)
        {
          *vals[i] = strtol (p + strlen (keys[i]), NULL, 10);
          found++;
        }
    }
  s.ok = found == 4;
  return s;
}

static void
setup_debugfs (void)
{
  mount ("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
  int fd = open ("/sys/kernel/debug/rseq/slice_ext_nsec", O_WRONLY);
  if (fd >= 0)
    {
      /* 50 us (the maximum), as slice.c: room for the unlock under TCG.  */
      if (write (fd, "50000", 5) != 5)
        printf ("note: slice_ext_nsec not set\n");
      close (fd);
    }
}

static void *
alloc_lock (void)
{
  size_t size = (rseq_percpu_spinlock_size () + RSEQ_PERCPU_ALIGN - 1)
                & ~(size_t) (RSEQ_PERCPU_ALIGN - 1);
  void *p = aligned_alloc (RSEQ_PERCPU_ALIGN, size);
  if (!p || rseq_percpu_spinlock_init (p, size, -1) != 0)
    abort ();
  return p;
}

static struct rseq_percpu_lock_stats
stats_of (void *lock)
{
  struct rseq_percpu_lock_stats s;
  memset (&s, 0, sizeof s);
  if (rseq_percpu_spinlock_stats (lock, &s, sizeof s) != 0)
    abort ();
  return s;
}

/* ---- hammer ------------------------------------------------------------ */

static void *hlock;
static volatile int hrun;
static long shared_counter;
static unsigned long section_iters;

struct worker { long sections, dirty, both, errors; };

static inline void
busy (unsigned long n)
{
  for (unsigned long i = 0; i < n; i++)
    __asm__ volatile ("" ::: "memory");
}

static void *
hammer_thread (void *arg)
{
  struct worker *w = arg;
  struct rseq *a = rseq_libc_area ();
  if (rseq_libc_slice_available () != expect_slice)
    w->errors++;
  while (hrun)
    {
      if (rseq_percpu_spinlock_lock (hlock) != 0)
        {
          w->errors++;
          break;
        }
      /* A plain read, the busy loop, a plain write: a second holder in
         between loses an update.  */
      long v = *(volatile long *) &shared_counter;
      busy (section_iters);
      if (ctrl_both_set (a))
        w->both++;
      *(volatile long *) &shared_counter = v + 1;
      if (rseq_percpu_spinlock_unlock (hlock) != 0)
        w->errors++;
      if (ctrl_all (a) != 0)
        w->dirty++;
      w->sections++;
    }
  return NULL;
}

static unsigned long
calibrate (double us)
{
  unsigned long n = 1UL << 16;
  double best = 1e9;
  for (int r = 0; r < 5; r++)
    {
      double t0 = now ();
      busy (n);
      double el = now () - t0;
      if (el > 0 && el < best)
        best = el;
    }
  double per_us = n / (best * 1e6);
  unsigned long it = (unsigned long) (per_us * us);
  return it ? it : 1;
}

struct figures
{
  long sections;
  struct rseq_percpu_lock_stats s;
  struct kstats k0, k1;
  long forced_granted, forced_rounds, forced_want;
  double forced_s;
};

static void
hammer (int nthreads, double seconds, double section_us, struct figures *f)
{
  hlock = alloc_lock ();
  section_iters = calibrate (section_us);
  pthread_t th[64];
  struct worker w[64];
  memset (w, 0, sizeof w);
  if (nthreads > 64)
    nthreads = 64;
  f->k0 = read_kstats ();
  hrun = 1;
  for (int i = 0; i < nthreads; i++)
    pthread_create (&th[i], NULL, hammer_thread, &w[i]);
  struct timespec ts = { (time_t) seconds, (long) ((seconds - (time_t) seconds) * 1e9) };
  while (nanosleep (&ts, &ts) != 0)
    ;
  hrun = 0;
  struct worker t = { 0 };
  for (int i = 0; i < nthreads; i++)
    {
      pthread_join (th[i], NULL);
      t.sections += w[i].sections;
      t.dirty += w[i].dirty;
      t.both += w[i].both;
      t.errors += w[i].errors;
    }
  f->k1 = read_kstats ();
  f->sections = t.sections;
  f->s = stats_of (hlock);
  struct rseq_percpu_lock_stats *s = &f->s;
  printf ("LOCK hammer: %d threads, section %.1f us (%lu iterations), %ld sections in %.1f s; "
          "contended %llu, spin acquired %llu, holder not running %llu, spin budget spent %llu, "
          "sleeps %llu, wakes %llu, slice requested %llu, granted %llu\n",
          nthreads, section_us, section_iters, t.sections, seconds,
          (unsigned long long) s->contended, (unsigned long long) s->spin_acquired,
          (unsigned long long) s->holder_not_running, (unsigned long long) s->spin_exhausted,
          (unsigned long long) s->sleeps, (unsigned long long) s->wakes,
          (unsigned long long) s->slice_requested, (unsigned long long) s->slice_granted);
  if (f->k0.ok && f->k1.ok)
    printf ("LOCK hammer kernel: sgrant %ld syield %ld srevok %ld sexpir %ld\n",
            f->k1.grant - f->k0.grant, f->k1.yield - f->k0.yield, f->k1.revok - f->k0.revok,
            f->k1.expir - f->k0.expir);
  CHECK (t.errors == 0, "hammer: %ld errors (lock/unlock, or availability != %d)", t.errors,
         expect_slice);
  CHECK (t.sections > 0, "hammer: no section ran");
  CHECK (shared_counter == t.sections, "hammer: counter %ld, %ld sections (lost updates)",
         shared_counter, t.sections);
  CHECK (t.dirty == 0, "hammer: slice_ctrl non-zero after %ld of %ld unlocks", t.dirty,
         t.sections);
  CHECK (t.both == 0, "hammer: request and granted both set in %ld sections", t.both);
  if (expect_slice)
    CHECK (s->slice_requested == (uint64_t) t.sections,
           "hammer: slice requested %llu for %ld holds", (unsigned long long) s->slice_requested,
           t.sections);
  else
    CHECK (s->slice_requested == 0 && s->slice_granted == 0,
           "hammer: no extension here, yet requested %llu granted %llu",
           (unsigned long long) s->slice_requested, (unsigned long long) s->slice_granted);
  CHECK (s->slice_granted <= s->slice_requested, "hammer: granted %llu > requested %llu",
         (unsigned long long) s->slice_granted, (unsigned long long) s->slice_requested);
  if (expect_slice && f->k0.ok && f->k1.ok)
    {
      CHECK ((long) s->slice_granted <= f->k1.grant - f->k0.grant,
             "hammer: lock granted %llu > kernel sgrant %ld",
             (unsigned long long) s->slice_granted, f->k1.grant - f->k0.grant);
      CHECK (f->k1.yield - f->k0.yield <= (long) s->slice_granted,
             "hammer: kernel syield %ld > lock granted %llu", f->k1.yield - f->k0.yield,
             (unsigned long long) s->slice_granted);
    }
}

/* ---- forced grants ------------------------------------------------------ */

static volatile int hog_run;

static void *
hog (void *arg)
{
  pin_to_cpu ((int) (intptr_t) arg);
  while (hog_run)
    __asm__ volatile ("" ::: "memory");
  return NULL;
}

static void
forced (int cpu, long want, double seconds, struct figures *f)
{
  struct rseq *a = rseq_libc_area ();
  void *lock = alloc_lock ();
  CHECK (pin_to_cpu (cpu) == 0, "pin to %d", cpu);
  hog_run = 1;
  pthread_t h;
  pthread_create (&h, NULL, hog, (void *) (intptr_t) cpu);
  struct kstats k0 = read_kstats ();
  double t0 = now (), el = 0;
  long rounds = 0, seen = 0, dirty = 0, both = 0, errors = 0;
  while (stats_of (lock).slice_granted < (uint64_t) want)
    {
      el = now () - t0;
      if (el > seconds || !a)
        break;
      rounds++;
      if (rseq_percpu_spinlock_lock (lock) != 0)
        {
          errors++;
          break;
        }
      /* Held, the lock's request armed: no system call until the kernel
         grants (granted set, request cleared) or schedules this thread out
         without a grant (both cleared).  */
      uint8_t req, gr;
      for (unsigned long spin = 0;; spin++)
        {
          uint32_t c = ctrl_all (a);
          req = c & 0xff;
          gr = (c >> 8) & 0xff;
          if (req && gr)
            both++;
          if (gr || !req || spin > (1UL << 30))
            break;
        }
      seen += gr != 0;
      errors += rseq_percpu_spinlock_unlock (lock) != 0;
      if (ctrl_all (a) != 0)
        dirty++;
    }
  hog_run = 0;
  pthread_join (h, NULL);
  struct kstats k1 = read_kstats ();
  struct rseq_percpu_lock_stats s = stats_of (lock);
  f->forced_granted = (long) s.slice_granted;
  f->forced_rounds = rounds;
  f->forced_want = want;
  f->forced_s = el;
  printf ("LOCK forced: %ld holds, %ld grants seen while held, lock counted requested %llu "
          "granted %llu (of %ld wanted), %.2f s\n",
          rounds, seen, (unsigned long long) s.slice_requested,
          (unsigned long long) s.slice_granted, want, el);
  if (k0.ok && k1.ok)
    printf ("LOCK forced kernel: sgrant %ld syield %ld srevok %ld sexpir %ld\n",
            k1.grant - k0.grant, k1.yield - k0.yield, k1.revok - k0.revok, k1.expir - k0.expir);
  CHECK (errors == 0, "forced: %ld lock/unlock errors", errors);
  CHECK (s.slice_granted == (uint64_t) want, "forced: lock granted %llu of %ld within %.0f s",
         (unsigned long long) s.slice_granted, want, seconds);
  CHECK (s.slice_requested == (uint64_t) rounds, "forced: requested %llu for %ld holds",
         (unsigned long long) s.slice_requested, rounds);
  CHECK (s.slice_granted <= (uint64_t) seen, "forced: lock granted %llu, seen %ld",
         (unsigned long long) s.slice_granted, seen);
  CHECK (dirty == 0, "forced: slice_ctrl non-zero after %ld unlocks", dirty);
  CHECK (both == 0, "forced: request and granted both set %ld times", both);
  if (k0.ok && k1.ok)
    {
      CHECK ((long) s.slice_granted <= k1.grant - k0.grant,
             "forced: lock granted %llu > kernel sgrant %ld", (unsigned long long) s.slice_granted,
             k1.grant - k0.grant);
      CHECK (k1.yield - k0.yield <= (long) s.slice_granted,
             "forced: kernel syield %ld > lock granted %llu", k1.yield - k0.yield,
             (unsigned long long) s.slice_granted);
    }
  else
    CHECK (0, "forced: no kernel statistics (CONFIG_RSEQ_STATS, debugfs)");
  unsigned long all[16];
  memset (all, 0xff, sizeof all);
  syscall (SYS_sched_setaffinity, 0, sizeof all, all);
}

int
main (void)
{
  setvbuf (stdout, NULL, _IOLBF, 0);
  expect_slice = env_int ("EXPECT_SLICE", 0);
  expect_owner = env_int ("EXPECT_OWNER", -1);
  const char *fake = getenv ("LOCK_FAKE");
  printf ("owner %d, registered feature size %u, slice available %d\n", rseq_libc_owner (),
          rseq_libc_feature_size (), rseq_libc_slice_available ());
  if (expect_owner >= 0)
    CHECK (rseq_libc_owner () == expect_owner, "owner %d, expected %d", rseq_libc_owner (),
           expect_owner);
  if (expect_slice)
    setup_debugfs ();
  if (fake && strcmp (fake, "off") == 0)
    CHECK (prctl (PR_SLICE, PR_SLICE_SET, 0, 0, 0) == 0, "prctl SET 0: errno %d", errno);
  else
    CHECK (rseq_libc_slice_available () == expect_slice, "slice available %d, expected %d",
           rseq_libc_slice_available (), expect_slice);
  struct figures f;
  memset (&f, 0, sizeof f);
  hammer (env_int ("LOCK_THREADS", 8), env_int ("LOCK_MS", 1500) / 1000.0,
          env_int ("LOCK_SECTION_US", 5), &f);
  if (expect_slice)
    {
      long ncpu = sysconf (_SC_NPROCESSORS_ONLN);
      forced ((int) (ncpu > 1 ? ncpu - 1 : 0), env_int ("LOCK_FORCED", 20),
              env_int ("LOCK_SECONDS", 60), &f);
    }
  printf ("LOCKSLICE sections %ld requested %llu granted %llu (%.2f/1000) sleeps %llu "
          "holder-not-running %llu kernel-sgrant %ld forced %ld/%ld in %ld holds %.1fs\n",
          f.sections, (unsigned long long) f.s.slice_requested,
          (unsigned long long) f.s.slice_granted,
          f.sections ? 1000.0 * f.s.slice_granted / f.sections : 0.0,
          (unsigned long long) f.s.sleeps, (unsigned long long) f.s.holder_not_running,
          f.k0.ok && f.k1.ok ? f.k1.grant - f.k0.grant : -1L, f.forced_granted, f.forced_want,
          f.forced_rounds, f.forced_s);
  report_and_exit ("lock_slice");
}
