/* Constructor-time matrix of the standalone host: an IFUNC resolver, a
   .preinit_array function, constructors with priority 101 and default,
   main, an atexit handler and a destructor each read cpu_id through
   __rseq_offset alone (no API call), and see a registered area whose
   cpu_id is the getcpu syscall's answer; in this order.
   EXPECT_REGISTERED=0 (rseq unavailable): __rseq_size is 0, cpu_id -2.  */
#include "check.h"
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <rseq-libc.h>

struct seen { int cpu_id, expect, order; unsigned size; long offset; };
static struct seen s_ifunc, s_preinit, s_ctor101, s_ctor, s_main, s_atexit, s_dtor;
static int order;
static int expect_registered, expect_feature_size;

static int
raw_cpu_id (void)
{
  return (int) ((volatile struct rseq *) ((char *) __builtin_thread_pointer ()
                                          + __rseq_offset))->cpu_id;
}

static void
record (struct seen *s)
{
  s->order = ++order;
  s->size = __rseq_size;
  s->offset = __rseq_offset;
  s->cpu_id = read_cpu_stable (raw_cpu_id, &s->expect);
}

static void
check_seen (const char *phase, const struct seen *s, int after)
{
  CHECK (s->order > after, "%s ran at step %d, after step %d", phase, s->order, after);
  CHECK (s->offset == s_main.offset && s->offset > 0,
         "%s: __rseq_offset %ld (main %ld)", phase, s->offset, s_main.offset);
  if (expect_registered)
    {
      CHECK (s->size == (unsigned) expect_feature_size, "%s: __rseq_size %u", phase, s->size);
      CHECK (s->cpu_id == s->expect, "%s: cpu_id %d, getcpu %d", phase, s->cpu_id, s->expect);
    }
  else
    {
      CHECK (s->size == 0, "%s: __rseq_size %u without rseq", phase, s->size);
      CHECK (s->cpu_id == -2, "%s: cpu_id %d without rseq", phase, s->cpu_id);
    }
}

/* IFUNC: the resolver runs from the start routine, after registration.  */
static int answer_impl (void) { return 42; }
typedef int (*answer_fn) (void);
static answer_fn
resolve_answer (void)
{
  record (&s_ifunc);
  return answer_impl;
}
int answer (void) __attribute__ ((ifunc ("resolve_answer")));

static void
preinit (int argc, char **argv, char **envp)
{
  (void) argc, (void) argv, (void) envp;
  record (&s_preinit);
}
__attribute__ ((section (".preinit_array"), used)) static void (*preinit_entry) (int, char **, char **) = preinit;

__attribute__ ((constructor (101))) static void ctor_101 (void) { record (&s_ctor101); }
__attribute__ ((constructor)) static void ctor_default (void) { record (&s_ctor); }
static void on_atexit (void) { record (&s_atexit); }

__attribute__ ((destructor)) static void
dtor (void)
{
  record (&s_dtor);
  check_seen ("IFUNC resolver", &s_ifunc, 0);
  check_seen (".preinit_array", &s_preinit, s_ifunc.order);
  check_seen ("constructor(101)", &s_ctor101, s_preinit.order);
  check_seen ("constructor", &s_ctor, s_ctor101.order);
  check_seen ("main", &s_main, s_ctor.order);
  check_seen ("atexit handler", &s_atexit, s_main.order);
  check_seen ("destructor", &s_dtor, s_atexit.order);
  report_and_exit ("ctor_matrix");
}

static int sched (void) { return sched_getcpu (); }

/* Unregister and register again, seen through __rseq_offset only.  */
static void *
reregister_thread (void *arg)
{
  int *ok = arg, expect;
  ok[0] = rseq_libc_unregister_current_thread () == 0 && raw_cpu_id () == -1
          && rseq_libc_owner () == RSEQ_LIBC_OWNER_NONE;
  ok[1] = rseq_libc_current_cpu () >= 0 && rseq_libc_register_current_thread () == 0
          && rseq_libc_owner () == RSEQ_LIBC_OWNER_COMPONENT
          && read_cpu_stable (raw_cpu_id, &expect) == expect;
  return NULL;
}

int
main (void)
{
  expect_registered = env_int ("EXPECT_REGISTERED", 1);
  expect_feature_size = env_int ("EXPECT_FEATURE_SIZE", -1);
  record (&s_main);
  CHECK (answer () == 42, "IFUNC");
  int expect;
  CHECK (read_cpu_stable (sched, &expect) == expect, "sched_getcpu");
  if (expect_registered)
    {
      int ok[2] = { 0, 0 };
      pthread_t t;
      CHECK (pthread_create (&t, NULL, reregister_thread, ok) == 0, "create");
      pthread_join (t, NULL);
      CHECK (ok[0], "unregistered area reads cpu_id -1");
      CHECK (ok[1], "registered again at tp + __rseq_offset");
    }
  CHECK (atexit (on_atexit) == 0, "atexit");
  return 0;
}
