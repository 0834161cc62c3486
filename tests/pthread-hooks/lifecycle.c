/* Lifecycle, in the spirit of glibc's nptl/tst-rseq-nptl (our own code):
   the calling thread's area is registered, with a correct cpu_id, in
   signal handlers, in thread batches of 1, 2, 6, 5, 4, 3 and 50 threads,
   in pthread key destructors, atexit and atfork handlers, the fork child,
   cancellation cleanup handlers and ELF destructors that create threads.
   Threads on user stacks show the exit hook: after join their area reads
   cpu_id == -1 (the kernel resets it on unregistration) when the component
   owns registration, and keeps its last cpu when the libc owns it (the
   hooks do nothing then).  vfork and posix_spawn children are checked too.
   EXPECT_OWNER: 1 libc, 2 component.  */
#include "hooks_common.h"
#include <spawn.h>
#include <sys/wait.h>

#ifdef WITH_HOOKSLIB
int hookslib_spawn (void);
#endif

static int expect_owner;
static _Atomic int bad, good;
static void
note (int ok)
{
  if (ok)
    atomic_fetch_add (&good, 1);
  else
    atomic_fetch_add (&bad, 1);
}

static void
check_here (const char *where)
{
  int owner = rseq_libc_owner ();
  int ok = registered_on_right_cpu ();
  CHECK (ok && owner == expect_owner, "%s: registered %d owner %d cpu_id %d", where, ok,
         owner, direct_cpu_id ());
}

static void
on_sigusr1 (int sig)
{
  (void) sig;
  note (registered_on_right_cpu ());
}

static pthread_key_t key;
static void
key_destructor (void *value)
{
  (void) value;
  note (registered_on_right_cpu ());
}

static void *
batch_thread (void *arg)
{
  (void) arg;
  note (registered_on_right_cpu () && rseq_libc_owner () == expect_owner);
  pthread_kill (pthread_self (), SIGUSR1);
  pthread_setspecific (key, (void *) 1);
  return NULL;
}

/* A new thread starts with its creator's signal mask (the hooks block
   every signal until it registered, then restore the creator's mask):
   SIGUSR2 and SIGTERM blocked in the creator, SIGUSR1 not.  */
static void *
mask_thread (void *arg)
{
  (void) arg;
  sigset_t m;
  sigemptyset (&m);
  pthread_sigmask (SIG_BLOCK, NULL, &m);
  return (void *) (long) (registered_on_right_cpu () && sigismember (&m, SIGUSR2) == 1
                          && sigismember (&m, SIGTERM) == 1
                          && sigismember (&m, SIGUSR1) == 0);
}

static void
check_mask_inherited (void)
{
  sigset_t block, old;
  sigemptyset (&block);
  sigaddset (&block, SIGUSR2);
  sigaddset (&block, SIGTERM);
  pthread_sigmask (SIG_BLOCK, &block, &old);
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  for (int with_attr = 0; with_attr < 2; with_attr++)
    {
      pthread_t t;
      void *r = NULL;
      int ok = pthread_create (&t, with_attr ? &attr : NULL, mask_thread, NULL) == 0
               && pthread_join (t, &r) == 0 && r == (void *) 1;
      CHECK (ok, "new thread (%s attr) registered with its creator's signal mask",
             with_attr ? "own" : "null");
    }
  pthread_attr_destroy (&attr);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
}

static void
run_batches (const char *where)
{
  static const int sizes[] = { 1, 2, 6, 5, 4, 3, 50 };
  int before_bad = atomic_load (&bad), before_good = atomic_load (&good);
  int expect_good = 0;
  for (unsigned b = 0; b < sizeof sizes / sizeof sizes[0]; b++)
    {
      pthread_t t[50];
      int n = sizes[b], created = 0;
      for (int i = 0; i < n; i++)
        if (pthread_create (&t[i], NULL, batch_thread, NULL) == 0)
          created++;
      CHECK (created == n, "%s: created %d of %d", where, created, n);
      for (int i = 0; i < created; i++)
        pthread_join (t[i], NULL);
      expect_good += 3 * created; /* thread, handler, key destructor */
    }
  CHECK (atomic_load (&bad) == before_bad
           && atomic_load (&good) - before_good == expect_good,
         "%s: %d bad, %d good of %d", where, atomic_load (&bad) - before_bad,
         atomic_load (&good) - before_good, expect_good);
}

/* A thread on a user stack: where its area was, and how it ends.  */
enum how { RETURN, EXIT, CANCEL };
struct user_thread { enum how how; volatile struct rseq *area; _Atomic int ready;
                     _Atomic int cleanup_ok; };

static void
cleanup (void *p)
{
  struct user_thread *u = p;
  atomic_store (&u->cleanup_ok, registered_on_right_cpu () ? 1 : -1);
}

static void *
user_stack_thread (void *p)
{
  struct user_thread *u = p;
  u->area = direct_area ();
  note (registered_on_right_cpu ());
  pthread_cleanup_push (cleanup, u);
  atomic_store (&u->ready, 1);
  if (u->how == EXIT)
    pthread_exit (NULL);
  if (u->how == CANCEL)
    for (;;)
      {
        pthread_testcancel ();
        usleep (1000);
      }
  pthread_cleanup_pop (u->how == RETURN);
  return NULL;
}

static void
check_user_stack_exit (enum how how, const char *name)
{
  size_t size = 1 << 20;
  char *stack = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack == MAP_FAILED)
    {
      CHECK (0, "%s: mmap failed", name);
      return;
    }
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  pthread_attr_setstack (&attr, stack, size);
  struct user_thread u = { .how = how };
  pthread_t t;
  int r = pthread_create (&t, &attr, user_stack_thread, &u);
  CHECK (r == 0, "%s: pthread_create %d", name, r);
  if (r == 0)
    {
      while (!atomic_load (&u.ready))
        usleep (100);
      if (how == CANCEL)
        pthread_cancel (t);
      void *result = NULL;
      pthread_join (t, &result);
      CHECK ((how == CANCEL) == (result == PTHREAD_CANCELED), "%s: result %p", name, result);
      CHECK (atomic_load (&u.cleanup_ok) == 1, "%s: cleanup handler saw %d", name,
             atomic_load (&u.cleanup_ok));
      char *a = (char *) u.area;
      if (a >= stack && a < stack + size)
        {
          int cpu_id = (int) u.area->cpu_id;
          if (expect_owner == RSEQ_LIBC_OWNER_COMPONENT)
            CHECK (cpu_id == -1, "%s: area not unregistered at exit (cpu_id %d)", name, cpu_id);
          else
            CHECK (cpu_id >= 0, "%s: libc-owned area changed at exit (cpu_id %d)", name, cpu_id);
        }
      else
        printf ("note: %s: the area is not in the user stack; exit not observable\n", name);
    }
  pthread_attr_destroy (&attr);
  munmap (stack, size);
}

static _Atomic int prepare_ok, parent_ok, child_ok;
static void at_prepare (void) { atomic_store (&prepare_ok, registered_on_right_cpu () ? 1 : -1); }
static void at_parent (void) { atomic_store (&parent_ok, registered_on_right_cpu () ? 1 : -1); }
static void at_child (void) { atomic_store (&child_ok, registered_on_right_cpu () ? 1 : -1); }

static void *
child_thread (void *arg)
{
  (void) arg;
  return (void *) (long) (registered_on_right_cpu () && rseq_libc_owner () == expect_owner);
}

/* A thread whose creator unregistered inherits that (component-owned),
   except where rseq-libc published __rseq_size (musl): that promises every
   thread registered from its start, so the new thread registers.  */
static void *
inherit_thread (void *arg)
{
  (void) arg;
  if (__rseq_size > 0)
    return (void *) (long) (registered_on_right_cpu ()
                            && rseq_libc_owner () == RSEQ_LIBC_OWNER_COMPONENT);
  return (void *) (long) (rseq_libc_owner () == RSEQ_LIBC_OWNER_NONE
                          && rseq_libc_none_reason () == RSEQ_LIBC_REASON_DISABLED
                          && direct_cpu_id () < 0);
}

/* A key destructor of the libc's last destructor round runs after the
   hooks' exit step (glibc rseq=0, musl: the hooks' key is older, so its
   destructor runs first in each round): a thread it creates is a new
   thread all the same, registered at start (through the published
   symbols: on musl the area at tp + __rseq_offset that __rseq_size
   promises), and rseq_libc_register_current_thread answers 0.  */
#ifndef PTHREAD_DESTRUCTOR_ITERATIONS
#define PTHREAD_DESTRUCTOR_ITERATIONS 4
#endif
static pthread_key_t last_round_key;
static _Atomic int last_round_ok = -1, last_round_creator_reason = -1;

static void *
last_round_thread (void *arg)
{
  (void) arg;
  int registered = registered_on_right_cpu ();
  int reg = rseq_libc_register_current_thread ();
  int owner = rseq_libc_owner ();
  if (!registered || reg != 0 || owner != expect_owner)
    printf ("FAIL last round's thread: registered %d, register %d, owner %d, reason %d\n",
            registered, reg, owner, rseq_libc_none_reason ());
  return (void *) (long) (registered && reg == 0 && owner == expect_owner);
}

static void
last_round_destructor (void *value)
{
  long round = (long) value;
  if (round < PTHREAD_DESTRUCTOR_ITERATIONS)
    {
      pthread_setspecific (last_round_key, (void *) (round + 1));
      return;
    }
  atomic_store (&last_round_creator_reason, rseq_libc_none_reason ());
  pthread_t t;
  void *r = NULL;
  int ok = pthread_create (&t, NULL, last_round_thread, NULL) == 0
           && pthread_join (t, &r) == 0 && r == (void *) 1;
  atomic_store (&last_round_ok, ok);
}

static void *
last_round_creator (void *arg)
{
  (void) arg;
  pthread_setspecific (last_round_key, (void *) 1);
  return NULL;
}

static void
check_thread_from_last_destructor_round (void)
{
  /* Created after the hooks' key (the first hooked pthread_create).  */
  CHECK (pthread_key_create (&last_round_key, last_round_destructor) == 0, "key");
  pthread_t t;
  CHECK (pthread_create (&t, NULL, last_round_creator, NULL) == 0 && pthread_join (t, NULL) == 0,
         "last round creator");
  printf ("note: the last round's creator had reason %d (%d: past its exit step)\n",
          atomic_load (&last_round_creator_reason), RSEQ_LIBC_REASON_EXITING);
  CHECK (atomic_load (&last_round_ok) == 1,
         "a thread created by a key destructor of the last round (creator reason %d) "
         "is registered at start",
         atomic_load (&last_round_creator_reason));
}

static void
check_fork (void)
{
  pthread_atfork (at_prepare, at_parent, at_child);
  pid_t pid = fork ();
  if (pid == 0)
    {
      int ok = registered_on_right_cpu () && rseq_libc_owner () == expect_owner
               && atomic_load (&child_ok) == 1;
      pthread_t t;
      void *r = NULL;
      ok = ok && pthread_create (&t, NULL, child_thread, NULL) == 0
           && pthread_join (t, &r) == 0 && r == (void *) 1;
      _exit (ok ? 0 : 1);
    }
  int status = -1;
  CHECK (pid > 0 && waitpid (pid, &status, 0) == pid && WIFEXITED (status)
           && WEXITSTATUS (status) == 0,
         "fork child: status %#x", status);
  CHECK (atomic_load (&prepare_ok) == 1 && atomic_load (&parent_ok) == 1,
         "atfork prepare %d parent %d", atomic_load (&prepare_ok), atomic_load (&parent_ok));
  check_here ("after fork");

  pid = vfork ();
  if (pid == 0)
    _exit (7);
  status = -1;
  CHECK (pid > 0 && waitpid (pid, &status, 0) == pid && WIFEXITED (status)
           && WEXITSTATUS (status) == 7,
         "vfork child: status %#x", status);
  check_here ("after vfork");

  extern char **environ;
  char *argv[] = { "true", NULL };
  pid = -1;
  int r = posix_spawn (&pid, "/bin/true", NULL, NULL, argv, environ);
  status = -1;
  CHECK (r == 0 && waitpid (pid, &status, 0) == pid && WIFEXITED (status)
           && WEXITSTATUS (status) == 0,
         "posix_spawn: %d status %#x", r, status);
  check_here ("after posix_spawn");
}

static void *
detached_thread (void *arg)
{
  note (registered_on_right_cpu ());
  atomic_fetch_add ((_Atomic int *) arg, 1);
  return NULL;
}

static void
check_in_exit_handlers (const char *where)
{
  check_here (where);
  pthread_t t;
  void *r = NULL;
  CHECK (pthread_create (&t, NULL, child_thread, NULL) == 0 && pthread_join (t, &r) == 0
           && r == (void *) 1,
         "%s: thread created there is not registered", where);
}

static void
at_exit_handler (void)
{
  check_in_exit_handlers ("atexit handler");
}

/* Runs after the atexit handlers (glibc and musl); reports.  */
__attribute__ ((destructor)) static void
elf_destructor (void)
{
  if (!expect_owner)
    return;
  check_in_exit_handlers ("ELF destructor");
  CHECK (atomic_load (&bad) == 0, "%d bad registrations seen", atomic_load (&bad));
  report_and_exit ("lifecycle");
}

int
main (void)
{
  expect_owner = env_int ("EXPECT_OWNER", 2);
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_sigusr1;
  sigaction (SIGUSR1, &sa, NULL);
  pthread_key_create (&key, key_destructor);

  check_here ("main");
  raise (SIGUSR1);
  CHECK (atomic_load (&good) == 1 && atomic_load (&bad) == 0, "handler on main");

  run_batches ("batches");
  check_mask_inherited ();
  check_thread_from_last_destructor_round ();
  check_user_stack_exit (RETURN, "user stack, return");
  check_user_stack_exit (EXIT, "user stack, pthread_exit");
  check_user_stack_exit (CANCEL, "user stack, cancellation");

  _Atomic int detached_done = 0;
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  int created = 0;
  for (int i = 0; i < 20; i++)
    {
      pthread_t t;
      created += pthread_create (&t, &attr, detached_thread, &detached_done) == 0;
    }
  pthread_attr_destroy (&attr);
  for (int i = 0; i < 5000 && atomic_load (&detached_done) < created; i++)
    usleep (1000);
  CHECK (created == 20 && atomic_load (&detached_done) == 20, "detached: %d of %d", atomic_load (&detached_done), created);

  if (expect_owner == RSEQ_LIBC_OWNER_COMPONENT)
    {
      CHECK (rseq_libc_unregister_current_thread () == 0, "unregister main");
      pthread_t t;
      void *r = NULL;
      CHECK (pthread_create (&t, NULL, inherit_thread, NULL) == 0 && pthread_join (t, &r) == 0
               && r == (void *) 1,
             "a thread inherits its creator's disabled registration (registers where "
             "__rseq_size %u is published)", __rseq_size);
      CHECK (rseq_libc_register_current_thread () == 0, "register main again");
      check_here ("main registered again");
    }

#ifdef WITH_HOOKSLIB
  /* A shared library's pthread_create: hooked only by interposition.  */
  CHECK (hookslib_spawn () == 1, "thread created by a shared library");
#endif

  check_fork ();
  atexit (at_exit_handler);
  return 0;
}
