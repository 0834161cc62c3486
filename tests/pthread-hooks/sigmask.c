/* A thread created with an attribute that carries its own signal mask
   (glibc >= 2.32, pthread_attr_setsigmask_np): glibc starts the thread with
   that mask, not with the all-blocked mask its creator had, so without care
   a handler can run on it before the hooks' start step: the hooks leave
   the attribute alone, and such a handler's first API call registers the
   thread (safe under glibc, which keeps a thread's memory until the
   kernel saw it exit).

   Deterministic: every existing thread blocks SIGUSR1, one SIGUSR1 is made
   pending for the process (kill), then a thread is created whose attribute
   mask leaves SIGUSR1 unblocked.  The new thread is the only one that can
   take the signal, and takes it the moment its mask allows it.  The handler
   calls the API, then checks the area is registered on the right CPU.
   The start routine checks the handler ran on it, that it is registered,
   and that its mask is exactly the attribute's.  The attribute still
   carries the caller's mask afterwards (the hooks never write it).  Then
   4 creators share one attribute: every thread gets the caller's mask.
   EXPECT_OWNER: 1 libc (control: glibc registers before it applies the
   mask), 2 component.  SIGMASK_THREADS: threads per part (200).  */
#include "hooks_common.h"

#if defined __GLIBC__
# define HAVE_ATTR_SIGMASK __GLIBC_PREREQ (2, 32)
#else
# define HAVE_ATTR_SIGMASK 0
#endif

#if !HAVE_ATTR_SIGMASK
int
main (void)
{
  printf ("SKIP: no pthread_attr_setsigmask_np (glibc >= 2.32 only)\n");
  return 77;
}
#elif defined SETTER_ONLY
/* A static link with pthread_attr_setsigmask_np but not
   pthread_attr_getsigmask_np: the hooks cannot read an attribute's mask,
   so a hooked pthread_create with an attribute fails with ENOSYS instead
   of starting a thread whose handlers may run unregistered (the fix is
   -Wl,-u,pthread_attr_getsigmask_np; run.sh checks that link with
   EXPECT_CREATE=0).  Without an attribute, or where the
   libc owns registration, threads start as usual.  */
static void *
nothing (void *arg)
{
  return arg;
}

int
main (void)
{
  int expect_owner = env_int ("EXPECT_OWNER", 2);
  CHECK (rseq_libc_owner () == expect_owner, "owner");
  sigset_t m;
  sigemptyset (&m);
  sigaddset (&m, SIGUSR2);
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  CHECK (pthread_attr_setsigmask_np (&attr, &m) == 0, "setsigmask_np");
  pthread_t t;
  int r = pthread_create (&t, &attr, nothing, NULL);
  if (r == 0)
    pthread_join (t, NULL);
  /* EXPECT_CREATE: what pthread_create returns with the masked attribute
     (default: ENOSYS where the component owns registration, else 0).  */
  int want = env_int ("EXPECT_CREATE", expect_owner == 2 ? ENOSYS : 0);
  CHECK (r == want, "pthread_create with a masked attribute: %d (expected %d)", r, want);
  r = pthread_create (&t, NULL, nothing, NULL);
  if (r == 0)
    pthread_join (t, NULL);
  CHECK (r == 0, "pthread_create without an attribute: %d", r);
  report_and_exit ("sigmask, setter only");
}
#else

static _Atomic int handler_runs, handler_unregistered, handler_tid;

static void
on_sigusr1 (int sig)
{
  (void) sig;
  /* The handler may run before the thread's start step (glibc applies the
     attribute's mask first): its API call registers the thread then.  */
  (void) rseq_libc_area ();
  if (!registered_on_right_cpu ())
    atomic_fetch_add (&handler_unregistered, 1);
  atomic_store (&handler_tid, (int) syscall (SYS_gettid));
  atomic_fetch_add (&handler_runs, 1);
}

/* The attribute's mask: SIGUSR2 and SIGTERM blocked, SIGUSR1 not.  */
static sigset_t attr_mask;

/* 1 if the calling thread's mask is exactly attr_mask.  */
static int
mask_is_attr_mask (void)
{
  sigset_t m;
  sigemptyset (&m);
  if (pthread_sigmask (SIG_BLOCK, NULL, &m) != 0)
    return 0;
  for (int s = 1; s < 65; s++)
    if (sigismember (&m, s) != sigismember (&attr_mask, s))
      return 0;
  return 1;
}

/* Bits: 1 registered, 2 mask is the attribute's, 4 the handler ran on this
   thread before the start routine.  */
static void *
pending_thread (void *arg)
{
  (void) arg;
  long r = 0;
  if (registered_on_right_cpu ())
    r |= 1;
  if (mask_is_attr_mask ())
    r |= 2;
  if (atomic_load (&handler_tid) == (int) syscall (SYS_gettid))
    r |= 4;
  return (void *) r;
}

static void *
shared_attr_thread (void *arg)
{
  (void) arg;
  return (void *) (long) (registered_on_right_cpu () && mask_is_attr_mask ());
}

static pthread_attr_t shared_attr;
static int per_creator;
static _Atomic int shared_good, shared_bad;

static void *
creator (void *arg)
{
  (void) arg;
  for (int i = 0; i < per_creator; i++)
    {
      pthread_t t;
      void *r = NULL;
      if (pthread_create (&t, &shared_attr, shared_attr_thread, NULL) == 0
          && pthread_join (t, &r) == 0 && r == (void *) 1)
        atomic_fetch_add (&shared_good, 1);
      else
        atomic_fetch_add (&shared_bad, 1);
    }
  return NULL;
}

static int
attr_still_carries_mask (pthread_attr_t *attr)
{
  sigset_t m;
  sigemptyset (&m);
  if (pthread_attr_getsigmask_np (attr, &m) != 0)
    return 0;
  for (int s = 1; s < 65; s++)
    if (sigismember (&m, s) != sigismember (&attr_mask, s))
      return 0;
  return 1;
}

int
main (void)
{
  int expect_owner = env_int ("EXPECT_OWNER", 2);
  int n = env_int ("SIGMASK_THREADS", 200);
  int owner = rseq_libc_owner ();
  CHECK (owner == expect_owner && registered_on_right_cpu (), "main: owner %d cpu_id %d",
         owner, direct_cpu_id ());

  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_sigusr1;
  sigaction (SIGUSR1, &sa, NULL);
  sigset_t usr1, creator_mask;
  sigemptyset (&usr1);
  sigaddset (&usr1, SIGUSR1);
  pthread_sigmask (SIG_BLOCK, &usr1, NULL);
  pthread_sigmask (SIG_BLOCK, NULL, &creator_mask);

  sigemptyset (&attr_mask);
  sigaddset (&attr_mask, SIGUSR2);
  sigaddset (&attr_mask, SIGTERM);
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  CHECK (pthread_attr_setsigmask_np (&attr, &attr_mask) == 0, "setsigmask_np");

  /* Part 1: a pending SIGUSR1 that only the new thread can take.  */
  int created = 0, registered = 0, masked = 0, handled_here = 0;
  for (int i = 0; i < n; i++)
    {
      int before = atomic_load (&handler_runs);
      atomic_store (&handler_tid, 0);
      kill (getpid (), SIGUSR1);
      pthread_t t;
      void *r = NULL;
      if (pthread_create (&t, &attr, pending_thread, NULL) != 0 || pthread_join (t, &r) != 0)
        continue;
      created++;
      registered += ((long) r & 1) != 0;
      masked += ((long) r & 2) != 0;
      handled_here += ((long) r & 4) != 0 && atomic_load (&handler_runs) == before + 1;
    }
  CHECK (created == n, "created %d of %d", created, n);
  CHECK (atomic_load (&handler_unregistered) == 0,
         "%d of %d handlers ran on an unregistered area", atomic_load (&handler_unregistered),
         atomic_load (&handler_runs));
  CHECK (handled_here == created, "the pending signal was handled on %d of %d new threads "
         "before their start routine", handled_here, created);
  CHECK (registered == created, "%d of %d start routines registered", registered, created);
  CHECK (masked == created, "%d of %d threads run with the attribute's mask", masked, created);
  CHECK (attr_still_carries_mask (&attr), "the attribute lost its mask");
  sigset_t after;
  pthread_sigmask (SIG_BLOCK, NULL, &after);
  int same = 1;
  for (int s = 1; s < 65; s++)
    same &= sigismember (&after, s) == sigismember (&creator_mask, s);
  CHECK (same, "the creator's mask changed");

  /* Part 2: 4 creators share one attribute.  */
  pthread_attr_init (&shared_attr);
  pthread_attr_setsigmask_np (&shared_attr, &attr_mask);
  per_creator = n / 4 > 0 ? n / 4 : 1;
  pthread_t c[4];
  for (int i = 0; i < 4; i++)
    CHECK (pthread_create (&c[i], NULL, creator, NULL) == 0, "creator %d", i);
  for (int i = 0; i < 4; i++)
    pthread_join (c[i], NULL);
  CHECK (atomic_load (&shared_good) == 4 * per_creator && atomic_load (&shared_bad) == 0,
         "shared attribute: %d of %d threads registered with the attribute's mask",
         atomic_load (&shared_good), 4 * per_creator);
  CHECK (attr_still_carries_mask (&shared_attr), "the shared attribute lost its mask");

  printf ("sigmask: %d threads with a pending signal (%d handlers, %d unregistered), "
          "%d on a shared attribute\n", created, atomic_load (&handler_runs),
          atomic_load (&handler_unregistered), atomic_load (&shared_good));
  report_and_exit ("sigmask");
}
#endif
