/* The rseq time-slice extension through rseq-libc (rseq_libc_slice_*),
   run by tests/kernels/slice.sh inside qemu guests and on this machine.

   EXPECT_SLICE=0: the kernel or the registration does not offer the
   extension (kernels before 7.0, Debian's 7.x kernels, a 32-byte libc
   registration, no area).  Every call is the no-op fallback: available 0,
   request and release -EOPNOTSUPP, the area's slice control and flags
   bits untouched, registration as usual (EXPECT_OWNER), in the main thread
   and in a new one.

   EXPECT_SLICE=1 (the custom 7.3 kernel with CONFIG_RSEQ_SLICE_EXTENSION,
   the component owning the registration):
   - registration enabled it (flags AVAILABLE|ENABLED, prctl GET = 1), in
     the main thread and in new threads; prctl SET 0 turns the API into the
     fallback, SET 1 back;
   - request sets slice_ctrl.request (and nothing else); release clears it
     and leaves slice_ctrl all zero;
   - forced grants: the thread, pinned to one CPU with a busy SCHED_OTHER
     thread pinned to the same CPU, arms a request and spins without any
     system call until the kernel either grants (granted 1, request 0) or
     schedules it out without a grant (both 0: the kernel clears the
     control on every reschedule), and re-arms in that case.  The scheduler
     must take the CPU from it for the other thread, and with a request
     armed each such reschedule on return from an interrupt is a grant
     unless other work is pending, so FORCED_GRANTS grants are reached
     (within SLICE_SECONDS, a bound, not a timing).  After each grant,
     release returns 1 (it yielded) and slice_ctrl is 0; the kernel's own
     statistics (debugfs rseq/stats, CONFIG_RSEQ_STATS) count the grants
     and at least one rseq_slice_yield within its grant (each release
     yields within a few instructions of seeing the grant; the extension is
     set to 50 us here; a grant revoked in between, when the host
     deschedules the vCPU, is not yielded, so only all of them failing
     fails);
   - stress: oversubscribed threads (requesters and busy threads, more than
     the CPUs) run short sections with a SIGALRM handler that requests and
     releases too; after every release slice_ctrl is 0, and inside a section
     request and granted are never both set.  Grant counts are reported as
     information.

   SLICE_FAKE=noyield (negative control): release replaced by a version
   that clears the request but never yields; the forced-grant checks must
   fail.  */
#include "check.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <time.h>
#include <fcntl.h>
#include <rseq-libc.h>

#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE 27
#endif
#define PR_SLICE 79
#define PR_SLICE_GET 1
#define PR_SLICE_SET 2
#define SLICE_AVAILABLE (1U << 4)
#define SLICE_ENABLED (1U << 5)

static int expect_slice, expect_owner, fake_noyield;
static unsigned int kernel_fs;

/* The slice control bytes: rseq-libc's <sys/rseq.h> stops at mm_cid, like
   glibc's; the kernel puts struct rseq_slice_ctrl at offset 28.  */
static volatile uint8_t *
ctrl_of (struct rseq *a)
{
  return (volatile uint8_t *) a + 28;
}

static uint32_t
ctrl_all (struct rseq *a)
{
  return __atomic_load_n ((uint32_t *) ctrl_of (a), __ATOMIC_RELAXED);
}

static uint32_t
flags_of (struct rseq *a)
{
  return __atomic_load_n (&a->flags, __ATOMIC_RELAXED);
}

static int
do_release (void)
{
  if (!fake_noyield)
    return rseq_libc_slice_release ();
  /* The negative control: clears the request, never yields.  */
  struct rseq *a = rseq_libc_area ();
  if (!a || (flags_of (a) & (SLICE_AVAILABLE | SLICE_ENABLED)) != (SLICE_AVAILABLE | SLICE_ENABLED))
    return -EOPNOTSUPP;
  ctrl_of (a)[0] = 0;
  return ctrl_of (a)[1] ? 1 : 0;
}

/* ---- kernel statistics (debugfs rseq/stats) ---------------------------- */

struct kstats { long grant, expir, revok, yield, abort; int ok; };

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
  static const struct { const char *key; size_t off; } keys[] = {
    { "sgrant:", offsetof (struct kstats, grant) },
    { "sexpir:", offsetof (struct kstats, expir) },
    { "srevok:", offsetof (struct kstats, revok) },
    { "syield:", offsetof (struct kstats, yield) },
    { "sabort:", offsetof (struct kstats, abort) },
  };
  int found = 0;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    {
      char *p = strstr (buf, keys[i].key);
      if (p)
        {
          *(long *) ((char *) &s + keys[i].off) = strtol (p + strlen (keys[i].key), NULL, 10);
          found++;
        }
    }
  s.ok = found == 5;
  return s;
}

static void
print_kstats (const char *what, struct kstats a, struct kstats b)
{
  if (a.ok && b.ok)
    printf ("KSTATS %s: sgrant %ld syield %ld sexpir %ld srevok %ld sabort %ld\n", what,
            b.grant - a.grant, b.yield - a.yield, b.expir - a.expir, b.revok - a.revok,
            b.abort - a.abort);
  else
    printf ("KSTATS %s: n/a (no debugfs rseq/stats)\n", what);
}

/* ---- the fallback ------------------------------------------------------ */

static void
check_fallback (const char *where)
{
  struct rseq *a = rseq_libc_area ();
  CHECK (rseq_libc_owner () == expect_owner, "%s: owner %d, expected %d", where,
         rseq_libc_owner (), expect_owner);
  CHECK (rseq_libc_slice_available () == 0, "%s: available", where);
  /* Bytes 28-31 exist in the area only for a registration longer than
     28 bytes (component-owned areas are 32+; glibc's 32).  */
  uint32_t before = a ? ctrl_all (a) : 0;
  int r = rseq_libc_slice_request ();
  CHECK (r == -EOPNOTSUPP, "%s: request %d", where, r);
  if (a)
    CHECK (ctrl_all (a) == before, "%s: request wrote the area: %#x -> %#x", where, before,
           ctrl_all (a));
  r = rseq_libc_slice_release ();
  CHECK (r == -EOPNOTSUPP, "%s: release %d", where, r);
  if (a)
    {
      CHECK (ctrl_all (a) == before, "%s: release wrote the area", where);
      CHECK ((flags_of (a) & (SLICE_AVAILABLE | SLICE_ENABLED)) == 0, "%s: flags %#x", where,
             flags_of (a));
      int cpu = (int) __atomic_load_n (&a->cpu_id, __ATOMIC_RELAXED);
      CHECK (cpu >= 0 && cpu < 1024, "%s: cpu_id %d", where, cpu);
    }
  else
    CHECK (expect_owner == 0, "%s: no area (reason %d, error %d)", where,
           rseq_libc_none_reason (), rseq_libc_registration_error ());
}

static void *
fallback_thread (void *arg)
{
  (void) arg;
  check_fallback ("new thread");
  return NULL;
}

/* ---- available: basics ------------------------------------------------- */

static void
check_enabled (const char *where)
{
  struct rseq *a = rseq_libc_area ();
  CHECK (a != NULL && rseq_libc_owner () == expect_owner, "%s: owner %d", where, rseq_libc_owner ());
  if (!a)
    return;
  CHECK ((flags_of (a) & (SLICE_AVAILABLE | SLICE_ENABLED)) == (SLICE_AVAILABLE | SLICE_ENABLED),
         "%s: flags %#x", where, flags_of (a));
  CHECK (prctl (PR_SLICE, PR_SLICE_GET, 0, 0, 0) == 1, "%s: prctl GET %d (errno %d)", where,
         prctl (PR_SLICE, PR_SLICE_GET, 0, 0, 0), errno);
  CHECK (rseq_libc_slice_available () == 1, "%s: not available", where);
  CHECK (rseq_libc_feature_size () >= 33, "%s: feature size %u", where, rseq_libc_feature_size ());
  /* request sets the request byte and nothing else.  A reschedule right
     after it clears the control (kernel), so retry until it is seen.  */
  int seen = 0, r = 0;
  for (int i = 0; i < 1000 && !seen; i++)
    {
      r = rseq_libc_slice_request ();
      uint32_t c = ctrl_all (a);
      seen = c == 1;
      int rel = do_release ();
      if (r != 0 || rel < 0)
        break;
    }
  CHECK (r == 0 && seen, "%s: request %d, request byte never seen set", where, r);
  CHECK (ctrl_all (a) == 0, "%s: slice_ctrl %#x after release", where, ctrl_all (a));
}

static void *
enabled_thread (void *arg)
{
  (void) arg;
  check_enabled ("new thread");
  return NULL;
}

/* ---- forced grants ----------------------------------------------------- */

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
forced_grants (int cpu, int want, double seconds)
{
  struct rseq *a = rseq_libc_area ();
  if (!a)
    return;
  CHECK (pin_to_cpu (cpu) == 0, "pin to %d", cpu);
  hog_run = 1;
  pthread_t h;
  pthread_create (&h, NULL, hog, (void *) (intptr_t) cpu);
  struct kstats k0 = read_kstats ();
  struct timespec t0, t;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  long grants = 0, denied = 0, released1 = 0, dirty_after = 0, both_set = 0, rounds = 0;
  double el = 0;
  while (grants < want)
    {
      clock_gettime (CLOCK_MONOTONIC, &t);
      el = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
      if (el > seconds)
        break;
      rounds++;
      if (rseq_libc_slice_request () != 0)
        break;
      /* No system call from here to the release: spin on the control.  */
      uint8_t req, gr;
      for (unsigned long spin = 0;; spin++)
        {
          req = ctrl_of (a)[0];
          gr = ctrl_of (a)[1];
          if (req && gr)
            both_set++;
          if (gr || !req || spin > (1UL << 30))
            break;
        }
      int r = do_release ();
      if (gr)
        {
          grants++;
          released1 += r == 1;
        }
      else
        denied++;
      if (ctrl_all (a) != 0)
        dirty_after++;
    }
  hog_run = 0;
  pthread_join (h, NULL);
  struct kstats k1 = read_kstats ();
  printf ("GRANTS forced: %ld grants seen in %ld rounds (%ld reschedules without a grant), %.2f s\n",
          grants, rounds, denied, el);
  print_kstats ("forced", k0, k1);
  CHECK (grants == want, "forced grants: %ld of %d within %.0f s", grants, want, seconds);
  /* A grant may be revoked (50 us timer) between the spin seeing it and
     release looking, if the host deschedules the vCPU there: release then
     finds granted 0 and rightly does not yield.  Not all of 20 in a row.  */
  CHECK (released1 >= 1, "release returned 1 for %ld of %ld grants", released1, grants);
  CHECK (dirty_after == 0, "slice_ctrl left non-zero after %ld releases", dirty_after);
  CHECK (both_set == 0, "request and granted both set %ld times", both_set);
  if (k0.ok && k1.ok)
    {
      CHECK (k1.grant - k0.grant >= grants, "kernel sgrant %ld < %ld grants seen",
             k1.grant - k0.grant, grants);
      CHECK (k1.yield - k0.yield >= 1 && k1.yield - k0.yield <= released1,
             "kernel syield %ld for %ld yielding releases of %ld grants (release must yield "
             "within the grant)", k1.yield - k0.yield, released1, grants);
    }
  else
    CHECK (0, "no kernel statistics (CONFIG_RSEQ_STATS, debugfs)");
  /* Unpin.  */
  unsigned long all[16];
  memset (all, 0xff, sizeof all);
  syscall (SYS_sched_setaffinity, 0, sizeof all, all);
}

/* ---- stress ------------------------------------------------------------ */

struct worker { long sections, granted, dirty, both, errors; };
static volatile int stress_run;
static volatile long handler_calls, handler_granted;

static void
on_alarm (int sig)
{
  (void) sig;
  int saved = errno;
  if (rseq_libc_slice_request () == 0)
    {
      for (volatile int i = 0; i < 200; i++)
        ;
      if (rseq_libc_slice_release () == 1)
        __atomic_fetch_add (&handler_granted, 1, __ATOMIC_RELAXED);
    }
  __atomic_fetch_add (&handler_calls, 1, __ATOMIC_RELAXED);
  errno = saved;
}

static void *
requester (void *arg)
{
  struct worker *w = arg;
  struct rseq *a = rseq_libc_area ();
  if (!a || !rseq_libc_slice_available ())
    {
      w->errors++;
      return NULL;
    }
  while (stress_run)
    {
      if (rseq_libc_slice_request () != 0)
        {
          w->errors++;
          break;
        }
      for (int i = 0; i < 2000; i++)
        {
          uint8_t req = ctrl_of (a)[0], gr = ctrl_of (a)[1];
          if (req && gr)
            w->both++;
        }
      int r = do_release ();
      if (r < 0)
        w->errors++;
      w->granted += r == 1;
      /* A signal handler in between requests and releases too: still 0.  */
      if (ctrl_all (a) != 0)
        w->dirty++;
      w->sections++;
    }
  return NULL;
}

static void
stress (double seconds, int nreq, int nhog)
{
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction (SIGALRM, &sa, NULL);
  struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
  struct kstats k0 = read_kstats ();
  stress_run = 1;
  hog_run = 1;
  pthread_t th[64], hh[64];
  struct worker w[64];
  memset (w, 0, sizeof w);
  for (int i = 0; i < nhog; i++)
    pthread_create (&hh[i], NULL, hog, (void *) (intptr_t) (i % 2));
  for (int i = 0; i < nreq; i++)
    pthread_create (&th[i], NULL, requester, &w[i]);
  setitimer (ITIMER_REAL, &it, NULL);
  struct timespec ts = { (time_t) seconds, (long) ((seconds - (time_t) seconds) * 1e9) };
  while (nanosleep (&ts, &ts) != 0 && errno == EINTR)
    ;
  struct itimerval off = { { 0, 0 }, { 0, 0 } };
  setitimer (ITIMER_REAL, &off, NULL);
  stress_run = 0;
  for (int i = 0; i < nreq; i++)
    pthread_join (th[i], NULL);
  hog_run = 0;
  for (int i = 0; i < nhog; i++)
    pthread_join (hh[i], NULL);
  struct kstats k1 = read_kstats ();
  struct worker t = { 0 };
  for (int i = 0; i < nreq; i++)
    {
      t.sections += w[i].sections;
      t.granted += w[i].granted;
      t.dirty += w[i].dirty;
      t.both += w[i].both;
      t.errors += w[i].errors;
    }
  printf ("GRANTS stress: %d requesters + %d busy threads, %ld sections, %ld granted and yielded; "
          "SIGALRM handler: %ld calls, %ld granted\n",
          nreq, nhog, t.sections, t.granted, handler_calls, handler_granted);
  print_kstats ("stress", k0, k1);
  CHECK (t.errors == 0, "stress: %ld API errors", t.errors);
  CHECK (t.sections > 0, "stress: no section ran");
  CHECK (t.dirty == 0, "stress: slice_ctrl non-zero after %ld of %ld releases", t.dirty, t.sections);
  CHECK (t.both == 0, "stress: request and granted both set %ld times", t.both);
}

static void
check_prctl_toggle (void)
{
  struct rseq *a = rseq_libc_area ();
  CHECK (prctl (PR_SLICE, PR_SLICE_SET, 0, 0, 0) == 0, "prctl SET 0: errno %d", errno);
  CHECK ((flags_of (a) & (SLICE_AVAILABLE | SLICE_ENABLED)) == SLICE_AVAILABLE, "flags %#x after disable",
         flags_of (a));
  CHECK (rseq_libc_slice_available () == 0, "available after disable");
  CHECK (rseq_libc_slice_request () == -EOPNOTSUPP, "request after disable");
  CHECK (ctrl_all (a) == 0, "request wrote the control while disabled");
  CHECK (rseq_libc_slice_release () == -EOPNOTSUPP, "release after disable");
  CHECK (prctl (PR_SLICE, PR_SLICE_SET, 1, 0, 0) == 0, "prctl SET 1: errno %d", errno);
  CHECK (rseq_libc_slice_available () == 1, "available after enable");
}

static void
setup_debugfs (void)
{
  /* The guests' init mounts /sys but not debugfs; root may mount it.  */
  mount ("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
  int fd = open ("/sys/kernel/debug/rseq/slice_ext_nsec", O_WRONLY);
  if (fd >= 0)
    {
      /* 50 us, the maximum: room for the yield on a loaded TCG host.  */
      if (write (fd, "50000", 5) != 5)
        printf ("note: slice_ext_nsec not set\n");
      close (fd);
    }
}

int
main (void)
{
  setvbuf (stdout, NULL, _IOLBF, 0);
  expect_slice = env_int ("EXPECT_SLICE", 0);
  expect_owner = env_int ("EXPECT_OWNER", -1);
  fake_noyield = getenv ("SLICE_FAKE") && strcmp (getenv ("SLICE_FAKE"), "noyield") == 0;
  kernel_fs = (unsigned int) getauxval (AT_RSEQ_FEATURE_SIZE);
  if (expect_owner < 0)
    expect_owner = rseq_libc_owner ();
  printf ("kernel feature size %u, owner %d, registered feature size %u, slice available %d\n",
          kernel_fs, rseq_libc_owner (), rseq_libc_feature_size (), rseq_libc_slice_available ());
  pthread_t t;
  if (!expect_slice)
    {
      check_fallback ("main thread");
      pthread_create (&t, NULL, fallback_thread, NULL);
      pthread_join (t, NULL);
      report_and_exit ("slice (fallback)");
    }
  setup_debugfs ();
  check_enabled ("main thread");
  pthread_create (&t, NULL, enabled_thread, NULL);
  pthread_join (t, NULL);
  if (rseq_libc_slice_available () == 1)
    {
      check_prctl_toggle ();
      long ncpu = sysconf (_SC_NPROCESSORS_ONLN);
      forced_grants ((int) (ncpu > 1 ? ncpu - 1 : 0), env_int ("FORCED_GRANTS", 20),
                     env_int ("SLICE_SECONDS", 60));
      stress (env_int ("STRESS_MS", 3000) / 1000.0, env_int ("STRESS_REQUESTERS", 4),
              env_int ("STRESS_HOGS", 2));
    }
  report_and_exit ("slice");
}
