/* Regression tests of the hooks' safety, linked with the README's plain
   link line (no linker flag).  One mode per run (argv[1]):

   detached  Detached POSIX and C11 threads and their signal handlers use
             the area and exit; musl unmaps a detached thread's stack
             before its last system call, so a thread still registered
             then dies by SIGSEGV.  A published __rseq_size
             (EXPECT_RSEQ_SIZE) must mean that every thread's area at
             tp + __rseq_offset is registered from the first instruction
             of its start routine.
   timer     (built with -DSAFETY_TIMER, which links timer_create) A
             SIGEV_THREAD timer's callbacks use the area through the API;
             musl runs them on one thread it recycles between callbacks
             (TLS re-initialized), so the component publishes no
             __rseq_size in such a program, and the thread ends cleanly
             after timer_delete.
   setxid    setuid () while a thread runs an application key destructor
             that comes after the hooks' exit step and waits for that
             setuid to finish: setuid needs every thread to take the
             libc's internal signal, so a thread that blocked it deadlocks
             the process (bounded here: the destructor gives up after 10 s
             and the test fails).  Then setuid racing thread creation.
   atexit    The last thread to exit is a hooked one (main called
             pthread_exit): exit () then runs the atexit handlers on it,
             which must see the thread's own signal mask.
   keys      No key left for the exit step: pthread_create answers EAGAIN
             (component owns) and succeeds again once keys are freed.

   EXPECT_OWNER: 1 libc (control), 2 component.  */
#include "hooks_common.h"
#include <threads.h>
#include <time.h>

static int expect_owner;

/* The area at tp + __rseq_offset is registered and on the right CPU, or
   nothing is published.  */
static int
published_ok (void)
{
  if (__rseq_size == 0)
    return 1;
  volatile struct rseq *r
    = (volatile struct rseq *) ((char *) __builtin_thread_pointer () + __rseq_offset);
  for (int i = 0; i < 100; i++)
    {
      int a = (int) r->cpu_id, s = syscall_getcpu (NULL), b = (int) r->cpu_id;
      if (a < 0 || b < 0)
        return 0;
      if (a == b && a == s)
        return 1;
    }
  return 0;
}

static _Atomic int done, bad, handled;

static void
on_sigusr1 (int sig)
{
  (void) sig;
  if (!published_ok () || rseq_libc_current_cpu () < 0)
    atomic_fetch_add (&bad, 1);
  atomic_fetch_add (&handled, 1);
}

static void *
checking_thread (void *arg)
{
  (void) arg;
  if (!published_ok ())
    atomic_fetch_add (&bad, 1);
  if (rseq_libc_current_cpu () < 0 || rseq_libc_owner () != expect_owner)
    atomic_fetch_add (&bad, 1);
  return NULL;
}

static void *
detached_thread (void *arg)
{
  checking_thread (arg);
  pthread_kill (pthread_self (), SIGUSR1);
  atomic_fetch_add (&done, 1);
  return NULL;
}

static int
c11_thread (void *arg)
{
  detached_thread (arg);
  return 0;
}

#ifdef SAFETY_TIMER
static _Atomic int timer_runs;
static void
on_timer (union sigval v)
{
  (void) v;
  int cpu = rseq_libc_current_cpu ();
  if (!published_ok () || cpu < 0 || rseq_libc_owner () != expect_owner)
    {
      printf ("timer callback: published %d, cpu %d, owner %d, reason %d\n", published_ok (),
              cpu, rseq_libc_owner (), rseq_libc_none_reason ());
      atomic_fetch_add (&bad, 1);
    }
  atomic_fetch_add (&timer_runs, 1);
}
#endif

static void
wait_for (_Atomic int *counter, int value, const char *what)
{
  for (int i = 0; i < 20000 && atomic_load (counter) < value; i++)
    usleep (1000);
  CHECK (atomic_load (counter) >= value, "%s: %d of %d", what, atomic_load (counter), value);
}

static void
run_detached (void)
{
  int n = env_int ("SAFETY_THREADS", 1000);
  int want_size = env_int ("EXPECT_RSEQ_SIZE", -1);
  CHECK (want_size < 0 || __rseq_size == (unsigned) want_size, "__rseq_size %u, expected %d",
         __rseq_size, want_size);
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_sigusr1;
  sigaction (SIGUSR1, &sa, NULL);
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  int created = 0;
  for (int i = 0; i < n; i++)
    {
      pthread_t t;
      created += pthread_create (&t, &attr, detached_thread, NULL) == 0;
      thrd_t c;
      if (thrd_create (&c, c11_thread, NULL) == thrd_success)
        created += thrd_detach (c) == thrd_success;
    }
  CHECK (created == 2 * n, "created %d of %d threads", created, 2 * n);
  wait_for (&done, created, "threads done");
  /* Let the detached threads finish exiting (unmap and exit) while this
     process still runs.  */
  usleep (200000);
  CHECK (atomic_load (&bad) == 0, "%d threads, handlers or callbacks found no area",
         atomic_load (&bad));
  CHECK (atomic_load (&handled) == created, "%d of %d handlers ran", atomic_load (&handled),
         created);
  printf ("detached: %d threads, __rseq_size %u\n", created, __rseq_size);
}

#ifdef SAFETY_TIMER
static void
run_timer (void)
{
  int want_size = env_int ("EXPECT_RSEQ_SIZE", -1);
  CHECK (want_size < 0 || __rseq_size == (unsigned) want_size, "__rseq_size %u, expected %d",
         __rseq_size, want_size);
  timer_t timer;
  struct sigevent sev;
  memset (&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_notify_function = on_timer;
  CHECK (timer_create (CLOCK_MONOTONIC, &sev, &timer) == 0, "timer_create");
  struct itimerspec its = { { 0, 2000000 }, { 0, 2000000 } };
  timer_settime (timer, 0, &its, NULL);
  wait_for (&timer_runs, 20, "timer callbacks");
  timer_delete (timer);
  /* The timer thread ends (musl: unmaps its stack) while we still run.  */
  usleep (200000);
  CHECK (atomic_load (&bad) == 0, "%d callbacks found no area", atomic_load (&bad));
  printf ("timer: %d callbacks, __rseq_size %u\n", atomic_load (&timer_runs), __rseq_size);
}
#endif

/* setxid: the application's key, created after the hooks' exit key (a
   first thread was created before it), so that in the last destructor
   round its destructor runs after the hooks' exit step.  */
static pthread_key_t app_key;
static _Atomic int in_destructor, setuid_done, destructor_gave_up;

static void
app_destructor (void *value)
{
  long round = (long) value;
  if (round < 4)
    {
      pthread_setspecific (app_key, (void *) (round + 1));
      return;
    }
  atomic_store (&in_destructor, 1);
  for (int i = 0; i < 10000 && !atomic_load (&setuid_done); i++)
    usleep (1000);
  if (!atomic_load (&setuid_done))
    atomic_store (&destructor_gave_up, 1);
}

static void *
keyed_thread (void *arg)
{
  (void) arg;
  pthread_setspecific (app_key, (void *) 1);
  return NULL;
}

static void *
nothing (void *arg)
{
  return arg;
}

static _Atomic int stop_creating, creations;
static void *
creator_loop (void *arg)
{
  (void) arg;
  while (!atomic_load (&stop_creating))
    {
      pthread_t t;
      if (pthread_create (&t, NULL, nothing, NULL) == 0)
        {
          pthread_join (t, NULL);
          atomic_fetch_add (&creations, 1);
        }
    }
  return NULL;
}

static void
run_setxid (void)
{
  pthread_t t;
  CHECK (pthread_create (&t, NULL, nothing, NULL) == 0 && pthread_join (t, NULL) == 0,
         "first thread");
  CHECK (pthread_key_create (&app_key, app_destructor) == 0, "pthread_key_create");
  CHECK (pthread_create (&t, NULL, keyed_thread, NULL) == 0, "keyed thread");
  wait_for (&in_destructor, 1, "the application destructor runs");
  CHECK (setuid (getuid ()) == 0 && setgid (getgid ()) == 0, "setuid/setgid: %d", errno);
  atomic_store (&setuid_done, 1);
  pthread_join (t, NULL);
  CHECK (!atomic_load (&destructor_gave_up),
         "setuid did not finish while a thread ran a destructor after the exit step");

  /* setuid racing thread creation and exit (a hang is killed by the
     harness: timeout -s KILL).  */
  pthread_t c[2];
  for (int i = 0; i < 2; i++)
    pthread_create (&c[i], NULL, creator_loop, NULL);
  int calls = 0;
  for (int i = 0; i < 300; i++)
    calls += setuid (getuid ()) == 0 && setgid (getgid ()) == 0;
  atomic_store (&stop_creating, 1);
  for (int i = 0; i < 2; i++)
    pthread_join (c[i], NULL);
  CHECK (calls == 300, "%d of 300 setuid/setgid pairs", calls);
  printf ("setxid: 300 setuid/setgid pairs beside %d thread creations\n",
          atomic_load (&creations));
}

/* atexit: the last thread's exit () runs this on that thread.  */
static sigset_t start_mask;
static void
check_mask_at_exit (void)
{
  sigset_t now;
  pthread_sigmask (SIG_BLOCK, NULL, &now);
  int same = 1;
  for (int s = 1; s < 32; s++)
    same &= sigismember (&now, s) == sigismember (&start_mask, s);
  CHECK (same, "atexit handler runs with another mask than the thread's (SIGUSR1 %d, "
         "SIGTERM %d blocked)", sigismember (&now, SIGUSR1), sigismember (&now, SIGTERM));
  CHECK (rseq_libc_current_cpu () >= 0, "cpu");
  printf ("atexit: %d passed, %d failed\n", checks_passed, checks_failed);
  fflush (stdout);
  _exit (checks_failed != 0);
}

static void *
last_thread (void *arg)
{
  (void) arg;
  usleep (50000);
  return NULL;
}

static void
run_atexit (void)
{
  pthread_sigmask (SIG_BLOCK, NULL, &start_mask);
  atexit (check_mask_at_exit);
  pthread_t t;
  CHECK (pthread_create (&t, NULL, last_thread, NULL) == 0, "thread");
  pthread_exit (NULL);
}

static void
run_keys (void)
{
  static pthread_key_t keys[4096];
  int n = 0;
  while (n < 4096 && pthread_key_create (&keys[n], NULL) == 0)
    n++;
  pthread_t t;
  int r = pthread_create (&t, NULL, nothing, NULL);
  if (r == 0)
    pthread_join (t, NULL);
  CHECK (r == (expect_owner == 2 ? EAGAIN : 0), "no key left: pthread_create %d", r);
  for (int i = 0; i < n; i++)
    pthread_key_delete (keys[i]);
  r = pthread_create (&t, NULL, checking_thread, NULL);
  if (r == 0)
    pthread_join (t, NULL);
  CHECK (r == 0, "keys freed again: pthread_create %d", r);
  CHECK (atomic_load (&bad) == 0, "the new thread found no area");
  printf ("keys: %d keys taken, then freed\n", n);
}

int
main (int argc, char **argv)
{
  expect_owner = env_int ("EXPECT_OWNER", 2);
  CHECK (rseq_libc_owner () == expect_owner, "main: owner %d", rseq_libc_owner ());
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp (mode, "detached") == 0)
    run_detached ();
  else if (strcmp (mode, "setxid") == 0)
    run_setxid ();
  else if (strcmp (mode, "atexit") == 0)
    run_atexit ();
  else if (strcmp (mode, "keys") == 0)
    run_keys ();
#ifdef SAFETY_TIMER
  else if (strcmp (mode, "timer") == 0)
    run_timer ();
#endif
  else
    CHECK (0, "mode '%s': detached, setxid, atexit, keys or timer", mode);
  report_and_exit (mode);
}
