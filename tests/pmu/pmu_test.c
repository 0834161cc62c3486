/* The C API of <rseq-pmu.h> (tests/pmu/run.sh on the host, the PMU rows
   of tests/arch-guests/run.sh in the aarch64 guests).

   pmu_test MODE, MODE one of:
     errors    bad input: negative errno, never a crash (software events,
               any machine)
     software  a software event: every read is read (2) and says so
               (RSEQ_PMU_PATH_SOFTWARE), agrees with read (2); restarts of
               the sequence under forced migration (injected SIGTRAP whose
               handler moves the thread to the other CPU: counted exactly,
               and the restarted read chooses the new CPU)
     user      the hardware counter from user space (cycles; with
               PMU_EVENT=instructions the instructions, for a guest under
               qemu -icount): needs a CPU PMU with user access, else SKIP
               with the reason (aarch64: sets perf_user_access to 1 first).
               Every user read sandwiches a read (2) of the same event
               (r1 <= read (2) <= r2: exact, monotonic), deltas within
               PMU_TOLERANCE counts when set; two entries on one PMU type
               (CPU 0 and CPU 1 split between them: the per-type selection
               with the single type qemu presents); migrations forced as in
               "software", on the user path.  PMU_REQUIRE=1 turns every
               SKIP into a FAIL (a guest whose PMU must be there)
     noaccess  user access off (aarch64: perf_user_access = 0; x86-64:
               /sys/bus/event_source/devices/cpu/rdpmc = 0, restored after):
               every read is read (2), says RSEQ_PMU_PATH_NO_ACCESS, and
               agrees with read (2) exactly
     norseq    run without rseq (tests/c/no_rseq_launcher.c): the software
               event exact, and the hardware one read by read (2) with
               RSEQ_PMU_PATH_NO_RSEQ, exact (no PMU: SKIP)
   Prints PASS/FAIL/SKIP lines and "N passed, N failed, N skipped".  */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "rseq-pmu.h"

/* <linux/perf_event.h>'s values (musl's cross toolchain has no kernel
   headers).  */
#define PERF_TYPE_HARDWARE 0
#define PERF_TYPE_SOFTWARE 1
#define PERF_TYPE_RAW 4
#define PERF_COUNT_HW_CPU_CYCLES 0
#define PERF_COUNT_HW_INSTRUCTIONS 1
#define PERF_COUNT_SW_TASK_CLOCK 1

/* struct perf_event_attr up to config1 (PERF_ATTR_SIZE_VER0).  */
struct attr_v0
{
  uint32_t type, size;
  uint64_t config, sample_period, sample_type, read_format;
  uint64_t flags; /* exclude_kernel: bit 5, exclude_hv: bit 6 */
  uint32_t wakeup_events, bp_type;
  uint64_t config1;
};

static int passed, failed, skipped;

#define CHECK(cond, ...)                                                      \
  do                                                                          \
    {                                                                         \
      if (cond)                                                               \
        passed++;                                                             \
      else                                                                    \
        {                                                                     \
          failed++;                                                           \
          printf ("FAIL %s:%d: %s: ", __func__, __LINE__, #cond);             \
          printf (__VA_ARGS__);                                               \
          printf ("\n");                                                      \
        }                                                                     \
    }                                                                         \
  while (0)

static void
pass (const char *what)
{
  printf ("PASS %s\n", what);
}

/* PMU_REQUIRE=1 (the aarch64 guests, whose PMU is known to exist): a
   reason to skip is a failure.  */
static void
skip (const char *why)
{
  const char *req = getenv ("PMU_REQUIRE");
  if (req != NULL && strcmp (req, "1") == 0)
    {
      printf ("FAIL (PMU_REQUIRE=1) %s\n", why);
      failed++;
      return;
    }
  printf ("SKIP %s\n", why);
  skipped++;
}

/* The test hook's SIGTRAP: counted, and the thread moved to trap_target.  */
static volatile sig_atomic_t traps_seen;
static volatile int trap_target = -1;

static void
on_trap (int sig)
{
  (void) sig;
  traps_seen++;
  if (trap_target >= 0)
    {
      cpu_set_t s;
      CPU_ZERO (&s);
      CPU_SET (trap_target, &s);
      sched_setaffinity (0, sizeof s, &s);
    }
}

static int
pin (int cpu)
{
  cpu_set_t s;
  CPU_ZERO (&s);
  CPU_SET (cpu, &s);
  return sched_setaffinity (0, sizeof s, &s);
}

static int
two_cpus (void)
{
  cpu_set_t s;
  if (sched_getaffinity (0, sizeof s, &s) != 0)
    return 0;
  return CPU_ISSET (0, &s) && CPU_ISSET (1, &s);
}

static int
write_sysctl (const char *path, const char *val)
{
  FILE *f = fopen (path, "w");
  if (f == NULL)
    return -errno;
  int ok = fputs (val, f) >= 0;
  return fclose (f) == 0 && ok ? 0 : -EIO;
}

/* Reads of SET whose path must be PATH, each sandwiching a read (2) of
   the entry it read: r1 <= read (2) <= r2.  Tolerance: 0 for none.  */
static void
sandwich (struct rseq_pmu *set, uint32_t path, int reads, uint64_t tolerance, const char *what)
{
  int bad_path = 0, bad_order = 0, bad_delta = 0, errors = 0;
  uint64_t max_delta = 0, prev = 0;
  uint32_t prev_entry = UINT32_MAX;
  struct rseq_pmu_reading r1, r2, first = { 0 };
  for (int i = 0; i < reads; i++)
    {
      uint64_t s;
      if (rseq_pmu_read (set, &r1) != 0 || rseq_pmu_read_entry (set, r1.entry, &s) != 0
          || rseq_pmu_read (set, &r2) != 0)
        {
          errors++;
          continue;
        }
      if (i == 0)
        first = r1;
      bad_path += r1.path != path || r2.path != path;
      /* The same event (one entry: the thread stayed on a CPU of its type,
         or the set has one type): exact order.  */
      if (r1.entry == r2.entry)
        {
          bad_order += !(r1.count <= s && s <= r2.count);
          if (prev_entry == r1.entry)
            bad_order += r1.count < prev;
          uint64_t d = r2.count - r1.count;
          if (d > max_delta)
            max_delta = d;
          bad_delta += tolerance != 0 && d > tolerance;
        }
      prev = r2.count;
      prev_entry = r2.entry;
    }
  printf ("%s: %d reads of path %u, first count %llu on cpu %u (entry %u, type %u), "
          "largest r2 - r1 %llu\n",
          what, reads, path, (unsigned long long) first.count, first.cpu, first.entry,
          first.pmu_type, (unsigned long long) max_delta);
  CHECK (errors == 0, "%s: %d reads failed", what, errors);
  CHECK (bad_path == 0, "%s: %d reads not on path %u (first: %u)", what, bad_path, path, first.path);
  CHECK (bad_order == 0, "%s: %d reads out of order with read (2)", what, bad_order);
  CHECK (bad_delta == 0, "%s: %d deltas above %llu (largest %llu)", what, bad_delta,
         (unsigned long long) tolerance, (unsigned long long) max_delta);
  if (errors == 0 && bad_path == 0 && bad_order == 0 && bad_delta == 0)
    pass (what);
}

/* Forced migrations: pinned to one CPU, one injected trap whose handler
   pins the thread to the other; the read must restart (counted exactly:
   the set's restarts grow by the sum of the readings' restarts, at least
   one per trap) and choose the new CPU.  */
static void
migrations (struct rseq_pmu *set, uint32_t path, const char *what)
{
#if defined __riscv
  {
    char why[160];
    snprintf (why, sizeof why, "%s: riscv64 has no read sequence yet (read (2) only)", what);
    skip (why);
    return;
  }
#endif
  if (!two_cpus ())
    {
      char why[160];
      snprintf (why, sizeof why, "%s: needs CPUs 0 and 1", what);
      skip (why);
      return;
    }
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_trap;
  sigaction (SIGTRAP, &sa, NULL);
  int rounds = 20, errors = 0, wrong_cpu = 0, no_restart = 0, bad_order = 0, bad_path = 0;
  int64_t before = rseq_pmu_restarts (set);
  uint64_t sum = 0;
  traps_seen = 0;
  for (int i = 0; i < rounds; i++)
    {
      int from = i % 2, to = 1 - from;
      struct rseq_pmu_reading r;
      uint64_t s0, s1;
      int e_to = rseq_pmu_entry_of_cpu (set, to);
      if (pin (from) != 0 || sched_getcpu () != from || e_to < 0
          || rseq_pmu_read_entry (set, e_to, &s0) != 0)
        {
          errors++;
          continue;
        }
      trap_target = to;
      rseq_pmu_inject_traps (set, 1);
      int rc = rseq_pmu_read (set, &r);
      trap_target = -1;
      if (rc != 0 || rseq_pmu_read_entry (set, r.entry, &s1) != 0)
        {
          errors++;
          continue;
        }
      sum += r.restarts;
      no_restart += r.restarts < 1;
      wrong_cpu += r.cpu != (uint32_t) to || r.entry != (uint32_t) e_to;
      bad_path += r.path != path;
      bad_order += !(s0 <= r.count && r.count <= s1);
    }
  int64_t after = rseq_pmu_restarts (set);
  pin (0);
  cpu_set_t all;
  CPU_ZERO (&all);
  CPU_SET (0, &all);
  CPU_SET (1, &all);
  sched_setaffinity (0, sizeof all, &all);
  printf ("%s: %d forced migrations, %d traps handled, %llu restarts in the readings, set's "
          "restarts %lld -> %lld\n",
          what, rounds, (int) traps_seen, (unsigned long long) sum, (long long) before,
          (long long) after);
  CHECK (errors == 0, "%s: %d rounds failed", what, errors);
  CHECK (traps_seen == rounds, "%s: %d traps for %d injected", what, (int) traps_seen, rounds);
  CHECK (no_restart == 0, "%s: %d reads not restarted", what, no_restart);
  CHECK ((uint64_t) (after - before) == sum, "%s: set's restarts grew by %lld, readings say %llu",
         what, (long long) (after - before), (unsigned long long) sum);
  CHECK (wrong_cpu == 0, "%s: %d restarted reads did not choose the new CPU", what, wrong_cpu);
  CHECK (bad_path == 0, "%s: %d reads not on path %u", what, bad_path, path);
  CHECK (bad_order == 0, "%s: %d reads out of order with read (2)", what, bad_order);
  if (errors == 0 && traps_seen == rounds && no_restart == 0 && wrong_cpu == 0 && bad_path == 0
      && bad_order == 0 && (uint64_t) (after - before) == sum)
    pass (what);
}

static void *
read_other_thread (void *set)
{
  struct rseq_pmu_reading r;
  return (void *) (intptr_t) rseq_pmu_read (set, &r);
}

static void
errors_mode (void)
{
  static struct rseq_pmu set, zero;
  static _Alignas (8) char bytes[RSEQ_PMU_SIZE + 8];
  struct rseq_pmu_reading r;
  uint64_t v;
  struct rseq_pmu *misaligned = (struct rseq_pmu *) (bytes + 1);
  CHECK (rseq_pmu_open (NULL, RSEQ_PMU_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK) == -EINVAL, "NULL set");
  CHECK (rseq_pmu_open (misaligned, RSEQ_PMU_SOFTWARE, 1) == -EINVAL, "misaligned set");
  CHECK (rseq_pmu_open (&set, 7, 0) == -EINVAL, "bad kind");
  CHECK (rseq_pmu_read (&zero, &r) == -EBADF, "read of a never opened set");
  CHECK (rseq_pmu_read_entry (&zero, 0, &v) == -EBADF, "read_entry of a never opened set");
  CHECK (rseq_pmu_close (&zero) == -EBADF, "close of a never opened set");
  CHECK (rseq_pmu_entries (&zero) == 0, "entries of a closed set");
  CHECK (rseq_pmu_entries (NULL) == -EINVAL, "entries of NULL");
  CHECK (rseq_pmu_restarts (NULL) == -EINVAL, "restarts of NULL");
  CHECK (rseq_pmu_inject_traps (NULL, 1) == -EINVAL, "inject on NULL");
  struct rseq_pmu_type nine[9];
  for (int i = 0; i < 9; i++)
    nine[i] = (struct rseq_pmu_type) { PERF_TYPE_SOFTWARE, NULL };
  CHECK (rseq_pmu_open_types (&set, RSEQ_PMU_SOFTWARE, 1, nine, 0) == -EINVAL, "no type");
  CHECK (rseq_pmu_open_types (&set, RSEQ_PMU_SOFTWARE, 1, NULL, 1) == -EINVAL, "NULL types");
  CHECK (rseq_pmu_open_types (&set, RSEQ_PMU_SOFTWARE, 1, nine, 9) == -ERANGE, "9 types");
  struct rseq_pmu_type overlap[2] = { { 1, "0-1" }, { 1, "1" } };
  CHECK (rseq_pmu_open_types (&set, RSEQ_PMU_SOFTWARE, 1, overlap, 2) == -EINVAL, "overlap");
  struct rseq_pmu_type big[1] = { { 1, "5000" } }, bad[1] = { { 1, "0-x" } };
  CHECK (rseq_pmu_open_types (&set, RSEQ_PMU_SOFTWARE, 1, big, 1) == -ERANGE, "CPU 5000");
  CHECK (rseq_pmu_open_types (&set, RSEQ_PMU_SOFTWARE, 1, bad, 1) == -EINVAL, "malformed list");
  int rc = rseq_pmu_open (&set, RSEQ_PMU_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK);
  CHECK (rc == 0, "open software: %d", rc);
  CHECK (rseq_pmu_open (&set, RSEQ_PMU_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK) == -EBUSY, "open twice");
  CHECK (rseq_pmu_read (&set, NULL) == -EINVAL, "NULL reading");
  CHECK (rseq_pmu_read_entry (&set, 1, &v) == -EINVAL, "entry 1 of 1");
  CHECK (rseq_pmu_read_entry (&set, 0, NULL) == -EINVAL, "NULL count");
  CHECK (rseq_pmu_type (&set, 0) == PERF_TYPE_SOFTWARE, "type of entry 0");
  CHECK (rseq_pmu_type (&set, 1) == -EINVAL, "type of entry 1");
  CHECK (rseq_pmu_entry_of_cpu (&set, RSEQ_PMU_MAX_CPUS) == -ENODEV, "CPU beyond the map");
  pthread_t t;
  void *other;
  CHECK (pthread_create (&t, NULL, read_other_thread, &set) == 0 && pthread_join (t, &other) == 0
             && (intptr_t) other == -EPERM,
         "read from another thread: %ld", (long) (intptr_t) other);
  CHECK (rseq_pmu_close (&set) == 0, "close");
  CHECK (rseq_pmu_close (&set) == -EBADF, "close twice");
  CHECK (rseq_pmu_read (&set, &r) == -EBADF, "read after close");
  if (failed == 0)
    pass ("errors: every bad input is a negative errno");
}

static void
software_mode (void)
{
  static struct rseq_pmu set;
  int rc = rseq_pmu_open (&set, RSEQ_PMU_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK);
  CHECK (rc == 0, "open software: %d", rc);
  if (rc != 0)
    return;
  sandwich (&set, RSEQ_PMU_PATH_SOFTWARE, 200, 0, "software: task-clock reads are read (2), exact");
  migrations (&set, RSEQ_PMU_PATH_SOFTWARE, "software: restarts under forced migration");
  rseq_pmu_close (&set);
}

/* Why there is no user-space counter here, or NULL if there may be one.  */
static const char *
no_pmu_reason (int open_rc)
{
  static char why[300];
  struct attr_v0 a;
  memset (&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_HARDWARE;
  a.config = PERF_COUNT_HW_CPU_CYCLES;
  a.flags = 1 << 5 | 1 << 6;
  long fd = syscall (SYS_perf_event_open, &a, 0, -1, -1, 0);
  int e = errno;
  if (fd >= 0)
    close (fd);
  if (open_rc == 0)
    return NULL;
  snprintf (why, sizeof why,
            "no CPU PMU with user access: rseq_pmu_open = %d (%s), "
            "perf_event_open(PERF_TYPE_HARDWARE, cycles) %s%s, "
            "/sys/bus/event_source/devices/cpu %s",
            open_rc, strerror (-open_rc), fd >= 0 ? "succeeds" : "fails: ",
            fd >= 0 ? "" : strerror (e),
            access ("/sys/bus/event_source/devices/cpu", F_OK) == 0 ? "exists" : "absent");
  return why;
}

static void
user_mode (void)
{
  static struct rseq_pmu set, split;
  const char *ev = getenv ("PMU_EVENT");
  int instructions = ev != NULL && strcmp (ev, "instructions") == 0;
  uint64_t config = instructions ? PERF_COUNT_HW_INSTRUCTIONS : PERF_COUNT_HW_CPU_CYCLES;
  const char *tol = getenv ("PMU_TOLERANCE");
  uint64_t tolerance = tol ? strtoull (tol, NULL, 10) : 0;
#ifdef __aarch64__
  int sc = write_sysctl ("/proc/sys/kernel/perf_user_access", "1");
  CHECK (sc == 0, "perf_user_access = 1: %d", sc);
#endif
  int rc = rseq_pmu_open (&set, RSEQ_PMU_HARDWARE, config);
  const char *why = no_pmu_reason (rc);
  if (why != NULL)
    {
      skip (why);
      return;
    }
  int n = rseq_pmu_entries (&set);
  printf ("user: %d entries:", n);
  for (int i = 0; i < n; i++)
    printf (" type %d", rseq_pmu_type (&set, i));
  printf ("; CPU 0 -> entry %d, CPU 1 -> entry %d\n", rseq_pmu_entry_of_cpu (&set, 0),
          rseq_pmu_entry_of_cpu (&set, 1));
  char what[200];
  snprintf (what, sizeof what, "user: %s read with %s agree with read (2) (r1 <= read <= r2)%s",
            instructions ? "instructions" : "cycles",
#ifdef __aarch64__
            "mrs",
#else
            "rdpmc",
#endif
            tolerance ? ", deltas within PMU_TOLERANCE" : "");
  sandwich (&set, RSEQ_PMU_PATH_USER, 200, tolerance, what);
  migrations (&set, RSEQ_PMU_PATH_USER, "user: restarts under forced migration");
  int type = rseq_pmu_type (&set, 0);
  rseq_pmu_close (&set);

  /* Two entries on the one PMU type, CPU 0 and CPU 1 split between them:
     the per-type selection (qemu presents one PMU type).  Raw events of
     the type (arm64: 0x11 CPU_CYCLES / 0x08 INST_RETIRED; x86: 0x3c /
     0xc0); the second is on an event counter (PMEVCNTR<n>_EL0), the
     first on the cycle counter.  */
  if (!two_cpus ())
    {
      skip ("user: per-type selection needs CPUs 0 and 1");
      return;
    }
#ifdef __aarch64__
  uint64_t raw = instructions ? 0x08 : 0x11;
#else
  uint64_t raw = instructions ? 0xc0 : 0x3c;
#endif
  struct rseq_pmu_type halves[2] = { { (uint32_t) type, "0" }, { (uint32_t) type, "1" } };
  if (type <= PERF_TYPE_SOFTWARE)
    halves[0].type = halves[1].type = PERF_TYPE_RAW;
  rc = rseq_pmu_open_types (&split, RSEQ_PMU_RAW, raw, halves, 2);
  CHECK (rc == 0, "open two entries of type %d: %d", type, rc);
  if (rc != 0)
    return;
  int chosen_ok = 1;
  uint32_t index[2] = { 0, 0 };
  for (int cpu = 0; cpu < 2; cpu++)
    {
      struct rseq_pmu_reading r;
      uint64_t s0, s1;
      pin (cpu);
      rseq_pmu_read_entry (&split, cpu, &s0);
      int e = rseq_pmu_read (&split, &r);
      rseq_pmu_read_entry (&split, cpu, &s1);
      printf ("split: on CPU %d: entry %u, path %u, counter index %u, count %llu (read (2) %llu .. "
              "%llu)\n",
              cpu, r.entry, r.path, r.index, (unsigned long long) r.count, (unsigned long long) s0,
              (unsigned long long) s1);
      index[cpu] = r.index;
      chosen_ok &= e == 0 && r.cpu == (uint32_t) cpu && r.entry == (uint32_t) cpu
                   && r.path == RSEQ_PMU_PATH_USER && s0 <= r.count && r.count <= s1;
    }
  CHECK (chosen_ok, "split: each CPU's read chose its entry");
  /* Two events of one thread on one PMU are on two counters (so at least
     one is an event counter, read through the jump table on arm64).  */
  CHECK (index[0] != 0 && index[1] != 0 && index[0] != index[1],
         "split: entries on counters %u and %u", index[0], index[1]);
  if (chosen_ok)
    pass ("split: two entries of one type, each CPU reads its own entry's counter");
  cpu_set_t all;
  CPU_ZERO (&all);
  CPU_SET (0, &all);
  CPU_SET (1, &all);
  sched_setaffinity (0, sizeof all, &all);
  migrations (&split, RSEQ_PMU_PATH_USER, "split: a forced migration switches entries");
  rseq_pmu_close (&split);
}

static void
noaccess_mode (void)
{
  static struct rseq_pmu set;
#ifdef __aarch64__
  const char *knob = "/proc/sys/kernel/perf_user_access", *restore = "1";
#else
  const char *knob = "/sys/bus/event_source/devices/cpu/rdpmc";
  char old[16] = "1";
  FILE *f = fopen (knob, "r");
  if (f != NULL)
    {
      if (fgets (old, sizeof old, f) == NULL)
        strcpy (old, "1");
      fclose (f);
    }
  const char *restore = old;
#endif
  int sc = write_sysctl (knob, "0");
  if (sc != 0)
    {
      char why[200];
      snprintf (why, sizeof why, "noaccess: cannot turn user access off (%s: %s)", knob,
                strerror (-sc));
      skip (why);
      return;
    }
  int rc = rseq_pmu_open (&set, RSEQ_PMU_HARDWARE, PERF_COUNT_HW_CPU_CYCLES);
  const char *why = no_pmu_reason (rc);
  if (why != NULL)
    {
      skip (why);
      return;
    }
  sandwich (&set, RSEQ_PMU_PATH_NO_ACCESS, 200, 0,
            "noaccess: perf_user_access=0: every read is read (2), reported, exact");
  rseq_pmu_close (&set);
  write_sysctl (knob, restore);
}

static void
norseq_mode (void)
{
  static struct rseq_pmu soft, set;
  int rc = rseq_pmu_open (&soft, RSEQ_PMU_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK);
  CHECK (rc == 0, "open software: %d", rc);
  if (rc == 0)
    sandwich (&soft, RSEQ_PMU_PATH_SOFTWARE, 200, 0, "norseq: task-clock without rseq, exact");
  rseq_pmu_close (&soft);
#ifdef __aarch64__
  write_sysctl ("/proc/sys/kernel/perf_user_access", "1");
#endif
  rc = rseq_pmu_open (&set, RSEQ_PMU_HARDWARE, PERF_COUNT_HW_CPU_CYCLES);
  const char *why = no_pmu_reason (rc);
  if (why != NULL)
    {
      skip (why);
      return;
    }
  sandwich (&set, RSEQ_PMU_PATH_NO_RSEQ, 200, 0,
            "norseq: no rseq area: every read is read (2), reported, exact");
  rseq_pmu_close (&set);
}

int
main (int argc, char **argv)
{
  setvbuf (stdout, NULL, _IOLBF, 0);
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp (mode, "errors") == 0)
    errors_mode ();
  else if (strcmp (mode, "software") == 0)
    software_mode ();
  else if (strcmp (mode, "user") == 0)
    user_mode ();
  else if (strcmp (mode, "noaccess") == 0)
    noaccess_mode ();
  else if (strcmp (mode, "norseq") == 0)
    norseq_mode ();
  else
    {
      fprintf (stderr, "usage: %s errors|software|user|noaccess|norseq\n", argv[0]);
      return 2;
    }
  printf ("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed != 0;
}
