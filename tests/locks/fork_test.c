/* The locks around fork, as pthread mutexes are used there (the
   pthread_atfork idiom): the forking thread holds each lock across fork(),
   the parent and the child unlock it after.  In the parent, at the fork,
   other threads wait on each lock (a NUMA lock waiter of another node, a
   sleeping spinlock waiter); they do not exist in the child, whose lock
   copies still count them.  The child must be able to unlock, then take
   every lock again as any node; a thread the child creates and that waits
   before the forking thread's unlock must get the lock from it, and every
   count must be back to zero after.  A child that hangs is killed by
   alarm(20) and reported.  Prints "N passed, N failed".  */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <rseq-libc.h>
#include <rseq-percpu.h>

static void *numa, *numa2, *spin; /* numa2: the child handler leaves it held */
static volatile int go;
static int child_unlock_numa = -1, child_unlock_spin = -1;

static void *
alloc_lock (size_t size)
{
  void *p = NULL;
  if (posix_memalign (&p, 64, size) != 0)
    abort ();
  return p;
}

static void *
numa_waiter (void *node)
{
  while (!__atomic_load_n (&go, __ATOMIC_ACQUIRE))
    usleep (100);
  void *l = (intptr_t) node == 2 ? numa2 : numa;
  if (rseq_percpu_numa_lock_as (l, (int) (intptr_t) node) < 0
      || rseq_percpu_numa_unlock (l) != 0)
    printf ("FAIL parent waiter of node %d\n", (int) (intptr_t) node);
  return NULL;
}

static void *
spin_waiter (void *arg)
{
  (void) arg;
  while (!__atomic_load_n (&go, __ATOMIC_ACQUIRE))
    usleep (100);
  if (rseq_percpu_spinlock_lock (spin) != 0 || rseq_percpu_spinlock_unlock (spin) != 0)
    printf ("FAIL parent spinlock waiter\n");
  return NULL;
}

static void
prepare (void)
{
  /* The forking thread takes every lock, then lets the waiters in and
     forks only once each of them is counted (or asleep) in its lock.  */
  rseq_percpu_numa_lock_as (numa, 0);
  rseq_percpu_numa_lock_as (numa2, 0);
  rseq_percpu_spinlock_lock (spin);
  __atomic_store_n (&go, 1, __ATOMIC_RELEASE);
  struct rseq_percpu_lock_stats s;
  do
    {
      usleep (100);
      memset (&s, 0, sizeof s);
      rseq_percpu_spinlock_stats (spin, &s, sizeof s);
    }
  while (rseq_percpu_numa_waiters (numa, 1) != 1 || rseq_percpu_numa_waiters (numa2, 2) != 1
         || s.sleeps == 0);
}

static void
parent (void)
{
  rseq_percpu_numa_unlock (numa);
  rseq_percpu_numa_unlock (numa2);
  rseq_percpu_spinlock_unlock (spin);
}

static void
child (void)
{
  child_unlock_numa = rseq_percpu_numa_unlock (numa);
  child_unlock_spin = rseq_percpu_spinlock_unlock (spin);
}

static void *
child_thread (void *arg)
{
  (void) arg;
  int r = rseq_percpu_numa_lock_as (numa2, 1);
  return (void *) (intptr_t) (r >= 0 && rseq_percpu_numa_unlock (numa2) == 0);
}

/* The child's checks; returns its exit status.  */
static int
in_child (void)
{
  alarm (20);
  CHECK (child_unlock_numa == 0 && child_unlock_spin == 0, "child handler unlocks: %d %d",
         child_unlock_numa, child_unlock_spin);
  CHECK (rseq_percpu_numa_waiters (numa, 1) == 0, "the parent's waiter counted in the child");
  CHECK (rseq_percpu_numa_trylock (numa) == 0,
         "numa trylock after the child's unlock (reserved for the parent's waiter?)");
  CHECK (rseq_percpu_numa_unlock (numa) == 0, "numa unlock");
  for (int node = 0; node < 3; node++)
    {
      CHECK (rseq_percpu_numa_lock_as (numa, node) >= 0, "numa lock_as %d", node);
      CHECK (rseq_percpu_numa_unlock (numa) == 0, "numa unlock %d", node);
    }
  CHECK (rseq_percpu_numa_lock (numa) >= 0 && rseq_percpu_numa_unlock (numa) == 0, "numa lock");
  CHECK (rseq_percpu_spinlock_trylock (spin) == 0 && rseq_percpu_spinlock_unlock (spin) == 0,
         "spinlock trylock after the child's unlock");
  CHECK (rseq_percpu_spinlock_lock (spin) == 0 && rseq_percpu_spinlock_unlock (spin) == 0,
         "spinlock lock");

  /* numa2 is still held by this (forking) thread: a thread of the child
     waits on it (node 1) before the unlock, which must hand it over.  */
  pthread_t t;
  void *ok = NULL;
  CHECK (pthread_create (&t, NULL, child_thread, NULL) == 0, "child pthread_create");
  while (rseq_percpu_numa_waiters (numa2, 1) != 1)
    usleep (100);
  CHECK (rseq_percpu_numa_unlock (numa2) == 0, "child unlocks numa2");
  pthread_join (t, &ok);
  CHECK (ok == (void *) 1, "the child's thread got numa2");
  int sum = 0;
  for (int node = 0; node < 3; node++)
    sum += rseq_percpu_numa_waiters (numa2, node);
  CHECK (sum == 0, "numa2 waiters after: %d", sum);
  CHECK (rseq_percpu_numa_trylock (numa2) == 0 && rseq_percpu_numa_unlock (numa2) == 0,
         "numa2 trylock after the hand-off");
  printf ("child: %d passed, %d failed\n", checks_passed, checks_failed);
  fflush (stdout);
  return checks_failed != 0;
}

int
main (void)
{
  setvbuf (stdout, NULL, _IONBF, 0);
  numa = alloc_lock (rseq_percpu_numa_lock_size ());
  numa2 = alloc_lock (rseq_percpu_numa_lock_size ());
  spin = alloc_lock (rseq_percpu_spinlock_size ());
  CHECK (rseq_percpu_numa_lock_init (numa, rseq_percpu_numa_lock_size (), -1, 0) == 0, "init");
  CHECK (rseq_percpu_numa_lock_init (numa2, rseq_percpu_numa_lock_size (), 0, 0) == 0, "init");
  CHECK (rseq_percpu_spinlock_init (spin, rseq_percpu_spinlock_size (), 0) == 0, "init");
  printf ("area: %s\n", rseq_libc_area () ? "yes" : "no");
  pthread_t w[3];
  pthread_create (&w[0], NULL, numa_waiter, (void *) 1);
  pthread_create (&w[1], NULL, numa_waiter, (void *) 2);
  pthread_create (&w[2], NULL, spin_waiter, NULL);
  pthread_atfork (prepare, parent, child);
  pid_t pid = fork ();
  if (pid == 0)
    _exit (in_child ());
  int status = -1;
  CHECK (pid > 0 && waitpid (pid, &status, 0) == pid, "fork/waitpid");
  if (WIFSIGNALED (status))
    CHECK (0, "the child was killed by signal %d%s", WTERMSIG (status),
           WTERMSIG (status) == SIGALRM ? " (hung on a lock for 20 s)" : "");
  else
    CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0, "child status %#x", status);
  for (int i = 0; i < 3; i++)
    pthread_join (w[i], NULL);
  CHECK (rseq_percpu_numa_trylock (numa) == 0 && rseq_percpu_numa_unlock (numa) == 0,
         "parent numa lock after");
  printf ("%d passed, %d failed\n", checks_passed, checks_failed);
  return checks_failed != 0;
}
