/* Drives a plugin that links the component through dlopen, a per-CPU
   operation or registration, dlclose, then preemption, migration and signal
   delivery on every allowed CPU, and checks that the process survives and
   that nobody's memory is written.

   main OPEN PLUGIN OP THREAD MAPPED [TLS2]
     OPEN    the object to dlopen (the plugin, or a library that needs it)
     PLUGIN  the plugin's path (for the RTLD_NOLOAD check after dlclose)
     OP      "counter": a per-CPU counter increment (leaves rseq_cs set);
             "register": registration only
     THREAD  1: a second thread uses the plugin too, and churns after dlclose
     MAPPED  1: the plugin must still be mapped after dlclose; 0: unmapped
     TLS2    a module with initial-exec TLS to dlopen after dlclose; its
             bytes must stay as initialized in every thread
   EXPECT_OWNER (environment): 1 = libc owns registration, 2 = component.
   EXPECT_WORKER_OWNER: what the worker thread's plugin_use answers
   (default EXPECT_OWNER); -95 (-EOPNOTSUPP) on musl, where a thread the
   pthread hooks did not start (the plugin build has none) gets no area:
   musl may unmap it before the component could unregister it.  */
#include "check.h"
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/rseq.h>

typedef int (*use_fn) (int, struct rseq **);
typedef int (*changed_fn) (void);

static const char *op;
static int expect_owner, expect_worker_owner, expect_mapped, with_thread;
static use_fn use;
static changed_fn tls2_changed;
static pthread_barrier_t barrier;
static volatile sig_atomic_t signals_seen;
static unsigned long allowed[16];

static void
on_signal (int sig)
{
  (void) sig;
  signals_seen++;
}

/* Migrates the calling thread to every allowed CPU in turn, yields and
   takes a signal there: each forces the kernel's rseq handling on return to
   user space, which reads rseq_cs and writes the area.  Checks the area
   (when it is still valid memory) and the TLS2 block after each step.  */
static void
churn (const char *who, struct rseq *area, int area_valid)
{
  for (int cpu = 0; cpu < 1024; cpu++)
    {
      if (!(allowed[cpu / 64] & (1UL << (cpu % 64))))
        continue;
      CHECK (pin_to_cpu (cpu) == 0, "%s: sched_setaffinity to CPU %d: %m", who, cpu);
      sched_yield ();
      int before = signals_seen;
      CHECK (pthread_kill (pthread_self (), SIGUSR1) == 0, "%s: pthread_kill", who);
      CHECK (signals_seen == before + 1, "%s: signal not handled", who);
      if (area_valid)
        {
          int id = (int) __atomic_load_n (&area->cpu_id, __ATOMIC_RELAXED);
          CHECK (id == cpu, "%s: area cpu_id %d on CPU %d", who, id, cpu);
        }
      if (tls2_changed)
        {
          int n = tls2_changed ();
          CHECK (n == 0, "%s: %d bytes of the second module's TLS changed on CPU %d",
                 who, n, cpu);
        }
    }
  CHECK (syscall (SYS_sched_setaffinity, 0, sizeof allowed, allowed) == 0,
         "%s: restore affinity", who);
}

static int
use_plugin (const char *who, struct rseq **area, int want_owner)
{
  int owner = use (strcmp (op, "counter") == 0, area);
  CHECK (owner == want_owner, "%s: owner %d, expected %d", who, owner, want_owner);
  CHECK ((*area != NULL) == (want_owner > 0), "%s: area %p", who, (void *) *area);
  return owner;
}

/* The area stays valid memory if the libc owns it, or if the plugin (whose
   TLS holds the component's) is still mapped.  */
static int
area_valid (int owner)
{
  return owner == 1 || (owner == 2 && expect_mapped);
}

static void *
worker (void *arg)
{
  (void) arg;
  struct rseq *area = NULL;
  int owner = use_plugin ("worker", &area, expect_worker_owner);
  pthread_barrier_wait (&barrier); /* used */
  pthread_barrier_wait (&barrier); /* dlclosed, TLS2 loaded */
  if (tls2_changed)
    CHECK (tls2_changed () == 0, "worker: TLS2 changed before any churn");
  churn ("worker", area, area != NULL && area_valid (owner));
  return NULL;
}

int
main (int argc, char **argv)
{
  if (argc < 6)
    {
      fprintf (stderr, "usage: %s OPEN PLUGIN OP THREAD MAPPED [TLS2]\n", argv[0]);
      return 2;
    }
  const char *open_path = argv[1], *plugin = argv[2], *tls2 = argc > 6 ? argv[6] : NULL;
  op = argv[3];
  with_thread = atoi (argv[4]);
  expect_mapped = atoi (argv[5]);
  expect_owner = env_int ("EXPECT_OWNER", -1);
  expect_worker_owner = env_int ("EXPECT_WORKER_OWNER", expect_owner);
  setvbuf (stdout, NULL, _IONBF, 0);

  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigaction (SIGUSR1, &sa, NULL);
  if (allowed_cpus (allowed) != 0)
    {
      printf ("FAIL sched_getaffinity\n0 passed, 1 failed\n");
      return 1;
    }

  void *h = dlopen (open_path, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL || (use = (use_fn) dlsym (h, "plugin_use")) == NULL)
    {
      printf ("FAIL dlopen %s: %s\n0 passed, 1 failed\n", open_path, dlerror ());
      return 1;
    }
  pthread_t t;
  pthread_barrier_init (&barrier, NULL, with_thread ? 2 : 1);
  if (with_thread)
    CHECK (pthread_create (&t, NULL, worker, NULL) == 0, "pthread_create");
  pthread_barrier_wait (&barrier); /* the worker used the plugin */

  /* Last before dlclose, so that no preemption in between lets the kernel
     clear rseq_cs (it does so lazily, reading the descriptor first).  */
  struct rseq *area = NULL;
  int owner = use_plugin ("main", &area, expect_owner);
  printf ("main: owner %d, rseq_cs %#llx before dlclose\n", owner,
          area ? (unsigned long long) area->rseq_cs : 0ULL);
  CHECK (dlclose (h) == 0, "dlclose: %s", dlerror ());

  void *again = dlopen (plugin, RTLD_NOW | RTLD_NOLOAD);
  CHECK ((again != NULL) == expect_mapped, "after dlclose the plugin is %s, expected %s",
         again ? "mapped" : "unmapped", expect_mapped ? "mapped" : "unmapped");
  if (again)
    dlclose (again);

  if (tls2)
    {
      void *t2 = dlopen (tls2, RTLD_NOW);
      CHECK (t2 != NULL, "dlopen %s: %s", tls2, dlerror ());
      if (t2)
        {
          tls2_changed = (changed_fn) dlsym (t2, "tls2_changed");
          CHECK (tls2_changed != NULL, "dlsym tls2_changed");
          if (tls2_changed)
            CHECK (tls2_changed () == 0, "main: TLS2 changed before any churn");
        }
    }
  pthread_barrier_wait (&barrier);
  /* One thread churns at a time: CHECK's counters are plain ints.  */
  if (with_thread)
    CHECK (pthread_join (t, NULL) == 0, "pthread_join");
  churn ("main", area, area != NULL && area_valid (owner));
  printf ("dlclose: %d passed, %d failed\n", checks_passed, checks_failed);
  return checks_failed != 0;
}
