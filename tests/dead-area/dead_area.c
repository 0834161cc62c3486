/* An area unregistered behind the component's back: a thread makes the raw
   rseq(RSEQ_FLAG_UNREGISTER) system call on its own area (as an
   application, a patched libc or a sandbox may), after the component and
   the inline header's cache have seen it registered.  The kernel then
   writes cpu_id = -1 and leaves mm_cid at 0 (an id another thread may
   hold), node_id and flags stale.  That area must count as no area on
   every entry point: the CPU and node from the fallback (vDSO, syscall),
   mm_cid -ENOSYS, no area, feature size 0, owner NONE (reason DISABLED),
   no slice extension, every per-CPU operation on its fallback (C API and
   inline header), in both index modes.  Then the component's
   registration calls: rseq_libc_register_current_thread registers a
   component-owned area again (0) and refuses a libc-owned one (-EPERM);
   rseq_libc_unregister_current_thread answers 0 (component) or -EPERM
   (libc).  EXPECT_OWNER: 1 libc, 2 component.  Prints "N passed, N
   failed".  */
#include "check.h"
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <rseq-libc.h>
#include <rseq-percpu.h>
#include <rseq-percpu-inline.h>

int getcpu (unsigned int *, unsigned int *);

static int expect_owner;
static int modes; /* index modes to check: 1 (cpu_id) or 2 (and mm_cid) */

/* The raw unregistration of the calling thread's area, with the length it
   was registered with (32, or the feature size when the registration is
   longer); 0 or -errno.  */
static int
raw_unregister (struct rseq *area)
{
  unsigned lens[] = { 32, rseq_libc_kernel_feature_size (), 64, 128 };
  for (unsigned i = 0; i < sizeof lens / sizeof lens[0]; i++)
    if (lens[i] >= 32 && syscall (SYS_rseq, area, lens[i], 1 /* RSEQ_FLAG_UNREGISTER */,
                                  0x53053053) == 0)
      return 0;
  return -errno;
}

static int
api_cpu (void)
{
  return rseq_libc_current_cpu ();
}

static int
libc_cpu (void)
{
  return sched_getcpu ();
}

static int
getcpu_cpu (void)
{
  unsigned c = 0, n = 0;
  return getcpu (&c, &n) == 0 ? (int) c : -1;
}

/* Every reader of the area, on a thread whose area is dead.  */
static void
check_dead (const char *how)
{
  int expect;
  int (*readers[]) (void) = { api_cpu, libc_cpu, getcpu_cpu };
  const char *names[] = { "rseq_libc_current_cpu", "sched_getcpu", "getcpu" };
  for (int i = 0; i < 3; i++)
    {
      int v = read_cpu_stable (readers[i], &expect);
      CHECK (v == expect, "%s: %s %d, getcpu syscall %d", how, names[i], v, expect);
    }
  unsigned node = 0, c = 0, n = 99;
  for (int i = 0; i < 100; i++)
    {
      int before = syscall_getcpu (&node);
      int ok = getcpu (&c, &n) == 0;
      int api_node = rseq_libc_current_node ();
      if (syscall_getcpu (NULL) == before)
        {
          CHECK (ok && (int) c == before && n == node && api_node == (int) node,
                 "%s: getcpu %u/%u, node %d, syscall %d/%u", how, c, n, api_node, before, node);
          break;
        }
    }
  CHECK (rseq_libc_current_mm_cid () == -ENOSYS, "%s: mm_cid %d from a dead area", how,
         rseq_libc_current_mm_cid ());
  CHECK (rseq_libc_area () == NULL, "%s: rseq_libc_area %p", how, (void *) rseq_libc_area ());
  CHECK (rseq_libc_feature_size () == 0, "%s: feature size %u", how, rseq_libc_feature_size ());
  CHECK (rseq_libc_owner () == RSEQ_LIBC_OWNER_NONE
           && rseq_libc_none_reason () == RSEQ_LIBC_REASON_DISABLED,
         "%s: owner %d reason %d", how, rseq_libc_owner (), rseq_libc_none_reason ());
  CHECK (rseq_libc_slice_available () == 0 && rseq_libc_slice_request () == -EOPNOTSUPP
           && rseq_libc_slice_release () == -EOPNOTSUPP,
         "%s: slice extension on a dead area", how);
  for (int mode = 0; mode < modes; mode++)
    {
      int e = 0;
      uintptr_t w __attribute__ ((aligned (64))) = 0;
      CHECK (rseq_percpu_current_index (mode) == -ENOSYS, "%s: mode %d: index %d", how, mode,
             rseq_percpu_current_index (mode));
      CHECK (rseq_percpu_inline_area_v2 (mode, &e) == NULL && e == -ENOSYS,
             "%s: mode %d: inline area lookup (err %d)", how, mode, e);
      CHECK (rseq_percpu_inline_current_index (mode) == -ENOSYS, "%s: mode %d: inline index %d",
             how, mode, rseq_percpu_inline_current_index (mode));
      int a = rseq_percpu_inline_add (mode, 0, &w, 1);
      int b = rseq_percpu_add (mode, 0, &w, 1);
      CHECK (a != RSEQ_PERCPU_DONE && b != RSEQ_PERCPU_DONE && w == 0,
             "%s: mode %d: add on a dead area: inline %d, C API %d, word %lu", how, mode, a, b,
             (unsigned long) w);
    }
}

static void *counters[2];

/* Fills the caches (the component's, the inline header's) while
   registered, unregisters behind the component's back, checks every entry
   point, then the registration call HOW (0: register, 1: unregister).  */
static void *
dead_area_thread (void *arg)
{
  int how = (int) (intptr_t) arg;
  const char *name = how ? "then unregister" : "then register";
  struct rseq *area = rseq_libc_area ();
  CHECK (area != NULL && rseq_libc_owner () == expect_owner, "%s: registered at start (owner %d)",
         name, rseq_libc_owner ());
  if (area == NULL)
    return NULL;
  CHECK (rseq_libc_current_mm_cid () >= 0, "%s: mm_cid while registered", name);
  for (int mode = 0; mode < modes; mode++)
    {
      CHECK (rseq_percpu_inline_current_index (mode) >= 0, "%s: inline index while registered",
             name);
      rseq_percpu_inline_counter_inc (counters[mode]);
      rseq_percpu_counter_inc (counters[mode]);
    }
  int r = raw_unregister (area);
  CHECK (r == 0 && (int) area->cpu_id == -1, "%s: raw unregistration %d, cpu_id %d", name, r,
         (int) area->cpu_id);
  if (r != 0)
    return NULL;
  check_dead (name);
  for (int mode = 0; mode < modes; mode++)
    {
      rseq_percpu_inline_counter_inc (counters[mode]);
      rseq_percpu_counter_inc (counters[mode]);
    }
  if (how == 0)
    {
      int want = expect_owner == RSEQ_LIBC_OWNER_COMPONENT ? 0 : -EPERM;
      r = rseq_libc_register_current_thread ();
      CHECK (r == want, "register a dead area: %d, want %d", r, want);
      if (want == 0)
        CHECK (rseq_libc_area () == area && (int) area->cpu_id >= 0
                 && rseq_libc_owner () == RSEQ_LIBC_OWNER_COMPONENT
                 && rseq_libc_current_mm_cid () >= 0,
               "registered again: area %p cpu_id %d owner %d", (void *) rseq_libc_area (),
               (int) area->cpu_id, rseq_libc_owner ());
      else
        check_dead ("after the refused registration");
    }
  else
    {
      int want = expect_owner == RSEQ_LIBC_OWNER_COMPONENT ? 0 : -EPERM;
      r = rseq_libc_unregister_current_thread ();
      CHECK (r == want, "unregister a dead area: %d, want %d", r, want);
      check_dead ("after rseq_libc_unregister_current_thread");
    }
  return NULL;
}

int
main (void)
{
  setvbuf (stdout, NULL, _IONBF, 0);
  expect_owner = env_int ("EXPECT_OWNER", 2);
  modes = rseq_libc_kernel_feature_size () >= 28 ? 2 : 1;
  for (int mode = 0; mode < modes; mode++)
    {
      counters[mode] = aligned_alloc (RSEQ_PERCPU_ALIGN, rseq_percpu_counter_size ());
      CHECK (rseq_percpu_counter_init (counters[mode], rseq_percpu_counter_size (), mode) == 0,
             "counter init");
    }
  for (intptr_t how = 0; how < 2; how++)
    {
      pthread_t t;
      CHECK (pthread_create (&t, NULL, dead_area_thread, (void *) how) == 0
               && pthread_join (t, NULL) == 0,
             "thread");
    }
  for (int mode = 0; mode < modes; mode++)
    {
      uint64_t v = 0;
      rseq_percpu_counter_read (counters[mode], &v);
      CHECK (v == 8, "mode %d: counter %lu, want 8 (no increment lost)", mode, (unsigned long) v);
    }
  CHECK (rseq_libc_area () != NULL && rseq_libc_current_mm_cid () >= 0,
         "the main thread keeps its area");
  printf ("dead area (owner %d, %d index modes): %d passed, %d failed\n", expect_owner, modes,
          checks_passed, checks_failed);
  return checks_failed != 0;
}
