/* rseq-percpu-inline: the per-CPU operations of <rseq-percpu.h> with their
   restartable sequences inlined into the caller (as librseq does), on the
   same objects: inline and call operations may be mixed on one counter,
   pool or ring, in any thread, in signal handlers too.

   Link with librseq_libc.a as for <rseq-percpu.h>: objects are created,
   read and drained through the call API, and every slow path (bad input,
   a retry after an abort, no area, an index beyond the object's slots, a
   full or empty per-CPU list, a full ring) ends in the call API or in the
   same atomic fallback slot the library uses, so results are the same as
   with the calls.

   What is inlined: the raw operations (rseq_percpu_inline_add ...), the
   counter's inc/add, the pool's alloc/free fast paths, the ring's
   write and the RCU read side (rseq_percpu_inline_rcu_read_lock/unlock:
   the counter's add on the period's lock or unlock count, no fence), and
   the counter's and the pool's operations through a per-thread handle
   (rseq_percpu_inline_counter_handle, _pool_handle: the thread's area and
   the object's mode read once, see "Handles" below).  The reader lock, RCU grace periods and callbacks, counter read/reset, pool
   storage and ring consume stay calls.

   The thread's area: found once per thread through the library
   (rseq_percpu_inline_area_v2: the area the libc or rseq-libc registered,
   whoever owns the thread) and cached in an initial-exec TLS pointer per
   index mode; an area whose cpu_id reads < 0 (unregistered, or
   registration failed) is "no area" and sends the operation to the slow
   path, which looks the area up again: once (one library call, as the
   call API's own lookup) for a raw operation or an index read; a
   counter's only when rseq-libc registered a thread since its last look
   found none (rseq_percpu_inline_registrations), or every 64th increment
   (RSEQ_PERCPU_INLINE_RECHECK), its increments going to the exact atomic
   fallback meanwhile; the pool's and ring's at a thread's first use (they
   end in the call, which looks up itself).
   A thread without an area starts with a stand-in whose cpu_id and mm_cid
   read -1, so the fast paths need no test of their own for it: in cpu_id
   mode, the sequence's compare of a non-negative index with cpu_id (or
   its bound check of the cpu_id it reads) fails on the stand-in and on
   an unregistered area alike; in mm_cid mode an unregistered area reads
   mm_cid 0, so there the fast path tests cpu_id >= 0 first.  mm_cid
   indexing is used only when the kernel fills mm_cid (feature size >= 28:
   objects are initialized in cpu_id mode otherwise, raw operations return
   -EOPNOTSUPP).

   Sequences: one file per architecture, <rseq-percpu-arch/ARCH.h>, with the
   section layout of the library's (`rseq-libc inspect' checks both).

   Compiles as C99 and C++11 and later with gcc and clang (GNU extensions:
   inline asm, __thread, __atomic builtins), -Wall -Wextra -pedantic clean.
   Define RSEQ_PERCPU_INLINE_TLS_MODEL before including (e.g.
   "global-dynamic") for code in a dlopen'ed library that cannot use
   initial-exec TLS.  */

#ifndef RSEQ_PERCPU_INLINE_H
#define RSEQ_PERCPU_INLINE_H 1

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <rseq-libc.h>
#include <rseq-percpu.h>

#if defined(__x86_64__)
# include "rseq-percpu-arch/x86_64.h"
#elif defined(__aarch64__)
# include "rseq-percpu-arch/aarch64.h"
#else
# error "rseq-percpu-inline.h: no restartable sequences for this architecture: add headers/rseq-percpu-arch/<arch>.h (the functions of rseq-percpu-arch/x86_64.h, with the same section layout) and include it here"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Object layout (shared with the library; src/percpu_capi.rs checks
   every number at compile time, and the library's lookup function carries
   the layout version in its name, so a mismatched library fails to link).
   Offsets are from the object's start.  */
#define RSEQ_PERCPU_INLINE_SLOTS 256       /* per-CPU slots of counter, pool */
#define RSEQ_PERCPU_INLINE_STRIDE 64       /* bytes between two slots */
#define RSEQ_PERCPU_INLINE_FALLBACK 16384  /* the atomic fallback slot's word */
#define RSEQ_PERCPU_INLINE_MODE 16464      /* index-field offset byte: 4 or 24 */
#define RSEQ_PERCPU_INLINE_COUNTER_SIZE 16576
#define RSEQ_PERCPU_INLINE_POOL_LIMIT 16544 /* per_cpu_limit (size_t) */
#define RSEQ_PERCPU_INLINE_POOL_SIZE 16576
#define RSEQ_PERCPU_INLINE_RING_CPUS 64    /* per-CPU buffers */
#define RSEQ_PERCPU_INLINE_RING_RECORDS 256 /* 64-byte records per buffer */
#define RSEQ_PERCPU_INLINE_RING_BUFFER 16512 /* bytes per buffer */
#define RSEQ_PERCPU_INLINE_RING_TAIL 64    /* in a buffer; head at 0 */
#define RSEQ_PERCPU_INLINE_RING_SLOT0 128  /* in a buffer: record 0 */
#define RSEQ_PERCPU_INLINE_RING_MODE 1073328
#define RSEQ_PERCPU_INLINE_RING_SIZE 1073344
#define RSEQ_PERCPU_INLINE_RCU_UNLOCK 16   /* in a slot: unlock[0]; lock[0] at 0 */
#define RSEQ_PERCPU_INLINE_RCU_PERIOD 16448 /* period word: bit 0, FENCED */
#define RSEQ_PERCPU_INLINE_RCU_FENCED 2u   /* readers must take the call */
#define RSEQ_PERCPU_INLINE_RCU_MODE 16456  /* index-field offset byte */
#define RSEQ_PERCPU_INLINE_RCU_SIZE 16576

/* The library's per-thread lookup: the calling thread's area usable for
   MODE (registered, cpu_id >= 0, and for RSEQ_PERCPU_MM_CID a kernel that
   fills mm_cid), else NULL with *ERR = -EINVAL (bad mode), -EOPNOTSUPP
   (mm_cid unsupported) or -ENOSYS (no area).  Registers the thread lazily
   when rseq-libc owns it.  Async-signal-safe.  */
struct rseq *rseq_percpu_inline_area_v2 (int mode, int *err);

#ifndef RSEQ_PERCPU_INLINE_TLS_MODEL
# define RSEQ_PERCPU_INLINE_TLS_MODEL "initial-exec"
#endif

/* Stress hook run by the slow paths after each aborted attempt (a test
   counts them); nothing by default.  */
#ifndef RSEQ_PERCPU_INLINE_ON_ABORT
# define RSEQ_PERCPU_INLINE_ON_ABORT() ((void) 0)
#endif

#define RSEQ_PERCPU_INLINE_LIKELY(x) __builtin_expect (!!(x), 1)
#define RSEQ_PERCPU_INLINE_UNLIKELY(x) __builtin_expect (!!(x), 0)
#define RSEQ_PERCPU_INLINE_SLOW __attribute__ ((__noinline__, __cold__, __unused__))

/* The stand-in area of a thread without one: cpu_id (word 1) and mm_cid
   (word 6) read -1, so no index a fast path accepts matches them and the
   objects' bound checks fail.  Writable: a sequence publishes its
   descriptor (words 2-3) before it compares the index, and on the
   stand-in then leaves by its abort or compare-failed exit; nothing reads
   what it wrote (the kernel never sees the stand-in).  */
static uint32_t rseq_percpu_inline_no_area_[8]
  __attribute__ ((__aligned__ (32), __unused__))
  = { 0, 0xffffffffu, 0, 0, 0, 0, 0xffffffffu, 0 };
/* The same, once a lookup found no area: the pool's and the ring's slow
   paths (which end in a call, not in a lookup) look the area up only while
   the cache still holds the first stand-in, so a thread that gets its area
   at its first call (lazy registration) takes the fast paths afterwards,
   and one that has none pays no lookup per operation.  */
static uint32_t rseq_percpu_inline_none_[8]
  __attribute__ ((__aligned__ (32), __unused__))
  = { 0, 0xffffffffu, 0, 0, 0, 0, 0xffffffffu, 0 };

/* This thread's area for cpu_id indexing (and for the objects, whose mode
   byte picks the field), and for raw mm_cid operations.  Written only by
   the thread itself (a signal handler writes the same values).  */
static __thread const uint32_t *rseq_percpu_inline_area_
  __attribute__ ((__tls_model__ (RSEQ_PERCPU_INLINE_TLS_MODEL), __unused__))
  = rseq_percpu_inline_no_area_;
static __thread const uint32_t *rseq_percpu_inline_mm_area_
  __attribute__ ((__tls_model__ (RSEQ_PERCPU_INLINE_TLS_MODEL), __unused__))
  = rseq_percpu_inline_no_area_;

/* Whether an area has a usable registration (cpu_id >= 0).  */
#define RSEQ_PERCPU_INLINE_HAS_AREA(a) \
  (*(const volatile int32_t *) ((a) + 1) >= 0)
/* The index field at offset OFF (4: cpu_id, 24: mm_cid) of area A.  */
#define RSEQ_PERCPU_INLINE_FIELD(a, off) \
  ((const uint32_t *) ((const char *) (a) + (off)))

/* Looks the area for MODE up again (first use, or a cached area that lost
   its registration) and caches it; returns it, or NULL with *ERR set.  One
   library call.  */
static RSEQ_PERCPU_INLINE_SLOW const uint32_t *
rseq_percpu_inline_refresh_ (int mode, int *err)
{
  int e = -EINVAL;
  const uint32_t *a = NULL;
  if (mode == RSEQ_PERCPU_CPU_ID)
    {
      a = (const uint32_t *) rseq_percpu_inline_area_v2 (mode, &e);
      rseq_percpu_inline_area_ = a ? a : rseq_percpu_inline_none_;
    }
  else if (mode == RSEQ_PERCPU_MM_CID)
    {
      a = (const uint32_t *) rseq_percpu_inline_area_v2 (mode, &e);
      rseq_percpu_inline_mm_area_ = a ? a : rseq_percpu_inline_none_;
    }
  if (!a)
    *err = e;
  return a;
}

#define RSEQ_PERCPU_INLINE_MODE_OK(mode) \
  ((mode) == RSEQ_PERCPU_CPU_ID || (mode) == RSEQ_PERCPU_MM_CID)
/* The cached area for MODE (0 or 1), or the stand-in.  */
#define RSEQ_PERCPU_INLINE_CACHED(mode) \
  ((mode) == RSEQ_PERCPU_MM_CID ? rseq_percpu_inline_mm_area_ \
                                : rseq_percpu_inline_area_)
#define RSEQ_PERCPU_INLINE_MODE_OFFSET(mode) \
  ((mode) == RSEQ_PERCPU_MM_CID ? 24 : 4)
/* Whether a raw operation may run its sequence on the cached area A for
   MODE and an INDEX it will compare with the index field: in cpu_id mode
   when INDEX is not negative (a register test: the sequence's compare of
   INDEX with cpu_id then also proves cpu_id >= 0, a registered area, and
   fails on the stand-in); in mm_cid mode when A's cpu_id is not negative
   (an unregistered area reads mm_cid 0: the compare alone would pass).  */
#define RSEQ_PERCPU_INLINE_RAW_OK(mode, a, index) \
  ((mode) == RSEQ_PERCPU_CPU_ID ? (int32_t) (index) >= 0 \
                                : RSEQ_PERCPU_INLINE_HAS_AREA (a))
#define RSEQ_PERCPU_INLINE_WORD_OK(p) \
  ((p) != NULL && ((uintptr_t) (p) & 7) == 0)
/* Whether an object whose index field is at offset OFF (its mode byte: 4
   cpu_id, 24 mm_cid) may take its fast path on the cached area A: a cpu_id
   object always (the bound check of the cpu_id it reads fails on the
   stand-in and on an unregistered area), an mm_cid object when A's cpu_id
   is not negative.  */
#define RSEQ_PERCPU_INLINE_OBJECT_OK(off, a) \
  (RSEQ_PERCPU_INLINE_LIKELY ((off) == 4) || RSEQ_PERCPU_INLINE_HAS_AREA (a))
#define RSEQ_PERCPU_INLINE_HANDLE_OK(p) \
  ((p) != NULL && ((uintptr_t) (p) & (RSEQ_PERCPU_ALIGN - 1)) == 0)

/* The end of a raw operation that did not commit on the cached area A for
   MODE (R: its outcome, RSEQ_PERCPU_ABORTED when it did not start): R when
   A is registered; else the area is looked up again: RSEQ_PERCPU_ABORTED
   when the thread has one now (the caller retries, as after any abort),
   else the lookup's error (-ENOSYS, -EOPNOTSUPP), as the call returns.  */
static RSEQ_PERCPU_INLINE_SLOW int
rseq_percpu_inline_raw_slow_ (int mode, const uint32_t *a, int r)
{
  int err = 0;
  if (!RSEQ_PERCPU_INLINE_MODE_OK (mode))
    return -EINVAL;
  if (RSEQ_PERCPU_INLINE_HAS_AREA (a))
    return r;
  return rseq_percpu_inline_refresh_ (mode, &err) ? RSEQ_PERCPU_ABORTED : err;
}

/* The pool's and the ring's slow paths: a thread's first look-up of its
   area (see rseq_percpu_inline_none_).  */
static RSEQ_PERCPU_INLINE_SLOW void
rseq_percpu_inline_first_lookup_ (void)
{
  int err = 0;
  if (rseq_percpu_inline_area_ == rseq_percpu_inline_no_area_)
    rseq_percpu_inline_refresh_ (RSEQ_PERCPU_CPU_ID, &err);
}

static RSEQ_PERCPU_INLINE_SLOW int
rseq_percpu_inline_current_index_slow_ (int mode)
{
  int err = 0;
  const uint32_t *a = rseq_percpu_inline_refresh_ (mode, &err);
  if (!a)
    return err;
  return (int) *(const volatile uint32_t *)
    RSEQ_PERCPU_INLINE_FIELD (a, RSEQ_PERCPU_INLINE_MODE_OFFSET (mode));
}

/* ---- Raw operations: as the calls of the same name in <rseq-percpu.h>
   (same arguments, results and errors), inlined.  */

static inline int
rseq_percpu_inline_current_index (int mode)
{
  if (mode == RSEQ_PERCPU_CPU_ID)
    {
      /* cpu_id itself: the one load is the index and the area's check.  */
      int32_t c = *(const volatile int32_t *) (rseq_percpu_inline_area_ + 1);
      if (RSEQ_PERCPU_INLINE_LIKELY (c >= 0))
        return c;
    }
  else if (mode == RSEQ_PERCPU_MM_CID)
    {
      const uint32_t *a = rseq_percpu_inline_mm_area_;
      if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_HAS_AREA (a)))
        return (int) *(const volatile uint32_t *) RSEQ_PERCPU_INLINE_FIELD (a, 24);
    }
  else
    return -EINVAL;
  return rseq_percpu_inline_current_index_slow_ (mode);
}

static inline int
rseq_percpu_inline_load_cbne_store (int mode, unsigned int index,
                                    uintptr_t *v, uintptr_t expect,
                                    uintptr_t newv)
{
  const uint32_t *a = RSEQ_PERCPU_INLINE_CACHED (mode);
  int r = RSEQ_PERCPU_ABORTED;
  if (!RSEQ_PERCPU_INLINE_WORD_OK (v))
    return -EINVAL;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_MODE_OK (mode)
                                 && RSEQ_PERCPU_INLINE_RAW_OK (mode, a, index)))
    {
      r = rseq_percpu_arch_load_cbne_store
        ((void *) a, RSEQ_PERCPU_INLINE_MODE_OFFSET (mode),
         index, v, expect, newv);
      if (RSEQ_PERCPU_INLINE_LIKELY (r != RSEQ_PERCPU_ABORTED))
        return r;
    }
  return rseq_percpu_inline_raw_slow_ (mode, a, r);
}

static inline int
rseq_percpu_inline_add (int mode, unsigned int index, uintptr_t *v,
                        uintptr_t inc)
{
  const uint32_t *a = RSEQ_PERCPU_INLINE_CACHED (mode);
  int r = RSEQ_PERCPU_ABORTED;
  if (!RSEQ_PERCPU_INLINE_WORD_OK (v))
    return -EINVAL;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_MODE_OK (mode)
                                 && RSEQ_PERCPU_INLINE_RAW_OK (mode, a, index)))
    {
      r = rseq_percpu_arch_add
        ((void *) a, RSEQ_PERCPU_INLINE_MODE_OFFSET (mode),
         index, v, inc);
      if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
        return r;
    }
  return rseq_percpu_inline_raw_slow_ (mode, a, r);
}

static inline int
rseq_percpu_inline_add_indexed (int mode, void *base, size_t stride,
                                unsigned int slots, uintptr_t inc,
                                unsigned int *index_out)
{
  const uint32_t *a = RSEQ_PERCPU_INLINE_CACHED (mode);
  int r = RSEQ_PERCPU_ABORTED;
  uint32_t i = 0;
  if (!RSEQ_PERCPU_INLINE_WORD_OK (base) || stride == 0 || (stride & 7) != 0
      || slots == 0 || (size_t) (slots - 1) > SIZE_MAX / stride
      || ((uintptr_t) index_out & (sizeof (unsigned int) - 1)) != 0)
    return -EINVAL;
  /* cpu_id mode: the in-section bound check (index < SLOTS) fails for a
     negative cpu_id once SLOTS is at most 2^31 (no registered cpu_id is
     above).  */
  if (mode == RSEQ_PERCPU_CPU_ID && slots > 0x80000000u)
    slots = 0x80000000u;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_MODE_OK (mode)
                                 && RSEQ_PERCPU_INLINE_RAW_OK (mode, a, 0)))
    {
      r = rseq_percpu_arch_add_indexed
        ((void *) a, RSEQ_PERCPU_INLINE_MODE_OFFSET (mode),
         (char *) base, stride, slots, inc, &i);
      if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
        {
          if (index_out)
            *index_out = i;
          return r;
        }
    }
  return rseq_percpu_inline_raw_slow_ (mode, a, r);
}

static inline int
rseq_percpu_inline_load_cbeq_pop (int mode, unsigned int index,
                                  uintptr_t *head, size_t next_offset,
                                  void **node_out)
{
  const uint32_t *a = RSEQ_PERCPU_INLINE_CACHED (mode);
  int r = RSEQ_PERCPU_ABORTED;
  uintptr_t node = 0;
  if (!RSEQ_PERCPU_INLINE_WORD_OK (head)
      || !RSEQ_PERCPU_INLINE_WORD_OK (node_out) || (next_offset & 7) != 0)
    return -EINVAL;
  *node_out = NULL;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_MODE_OK (mode)
                                 && RSEQ_PERCPU_INLINE_RAW_OK (mode, a, index)))
    {
      r = rseq_percpu_arch_load_cbeq_pop
        ((void *) a, RSEQ_PERCPU_INLINE_MODE_OFFSET (mode),
         index, head, next_offset, &node);
      if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
        {
          *node_out = (void *) node;
          return r;
        }
      if (r == RSEQ_PERCPU_COMPARE_FAILED)
        return r;
    }
  return rseq_percpu_inline_raw_slow_ (mode, a, r);
}

static inline int
rseq_percpu_inline_load_cbne_store_store (int mode, unsigned int index,
                                          uintptr_t *v, uintptr_t expect,
                                          uintptr_t *v2, uintptr_t newv2,
                                          uintptr_t newv)
{
  const uint32_t *a = RSEQ_PERCPU_INLINE_CACHED (mode);
  int r = RSEQ_PERCPU_ABORTED;
  if (!RSEQ_PERCPU_INLINE_WORD_OK (v) || !RSEQ_PERCPU_INLINE_WORD_OK (v2))
    return -EINVAL;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_MODE_OK (mode)
                                 && RSEQ_PERCPU_INLINE_RAW_OK (mode, a, index)))
    {
      r = rseq_percpu_arch_load_cbne_store_store
        ((void *) a, RSEQ_PERCPU_INLINE_MODE_OFFSET (mode),
         index, v, expect, v2, newv2, newv);
      if (RSEQ_PERCPU_INLINE_LIKELY (r != RSEQ_PERCPU_ABORTED))
        return r;
    }
  return rseq_percpu_inline_raw_slow_ (mode, a, r);
}

static inline int
rseq_percpu_inline_load_cbne_memcpy_store (int mode, unsigned int index,
                                           uintptr_t *v, uintptr_t expect,
                                           void *dst, const void *src,
                                           size_t len, uintptr_t newv)
{
  const uint32_t *a = RSEQ_PERCPU_INLINE_CACHED (mode);
  int r = RSEQ_PERCPU_ABORTED;
  if (!RSEQ_PERCPU_INLINE_WORD_OK (v) || len > RSEQ_PERCPU_MEMCPY_MAX
      || (len != 0 && (dst == NULL || src == NULL)))
    return -EINVAL;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_MODE_OK (mode)
                                 && RSEQ_PERCPU_INLINE_RAW_OK (mode, a, index)))
    {
      r = rseq_percpu_arch_load_cbne_memcpy_store
        ((void *) a, RSEQ_PERCPU_INLINE_MODE_OFFSET (mode),
         index, v, expect, dst, src, len, newv);
      if (RSEQ_PERCPU_INLINE_LIKELY (r != RSEQ_PERCPU_ABORTED))
        return r;
    }
  return rseq_percpu_inline_raw_slow_ (mode, a, r);
}

/* ---- Counter: inc/add as the calls (0 or -EINVAL).  */

/* Counters of a thread whose last look-up found no area look again when
   the library's count of registrations (rseq_percpu_inline_registrations:
   a thread got an area through rseq-libc) moved since that look-up, and
   every RSEQ_PERCPU_INLINE_RECHECK-th increment otherwise (an area
   registered behind rseq-libc's back, by a raw system call); until then
   the increments go to the exact fallback slot.  */
#define RSEQ_PERCPU_INLINE_RECHECK 64u
extern unsigned int rseq_percpu_inline_registrations;
static __thread unsigned int rseq_percpu_inline_recheck_
  __attribute__ ((__tls_model__ (RSEQ_PERCPU_INLINE_TLS_MODEL), __unused__));
static __thread unsigned int rseq_percpu_inline_seen_
  __attribute__ ((__tls_model__ (RSEQ_PERCPU_INLINE_TLS_MODEL), __unused__));

/* The counter's slow path: bad handle (the call's -EINVAL), an abort (the
   sequence again), no area (the fallback slot atomically, after a look-up
   unless the last one found none: see RSEQ_PERCPU_INLINE_RECHECK), an
   index beyond the slots (the fallback).  */
static RSEQ_PERCPU_INLINE_SLOW int
rseq_percpu_inline_counter_add_slow_ (void *counter, uint64_t n)
{
  char *c = (char *) counter;
  if (!RSEQ_PERCPU_INLINE_HANDLE_OK (c))
    return rseq_percpu_counter_add (counter, n); /* -EINVAL */
  for (;;)
    {
      int err, r;
      const uint32_t *a = rseq_percpu_inline_area_;
      if (!RSEQ_PERCPU_INLINE_HAS_AREA (a))
        {
          /* The last look-up found none: look again only every
             RSEQ_PERCPU_INLINE_RECHECK-th time (the fallback is exact
             either way), so that an increment without an area costs the
             atomic, not a look-up and the atomic as the call does.  */
          unsigned int seen = __atomic_load_n (&rseq_percpu_inline_registrations,
                                               __ATOMIC_RELAXED);
          if (a == rseq_percpu_inline_none_ && seen == rseq_percpu_inline_seen_
              && ++rseq_percpu_inline_recheck_ % RSEQ_PERCPU_INLINE_RECHECK != 0)
            break;
          /* Read before the look-up: a registration racing it moves the
             count again.  */
          rseq_percpu_inline_seen_ = seen;
          a = rseq_percpu_inline_refresh_ (RSEQ_PERCPU_CPU_ID, &err);
          if (!a)
            break;
        }
      r = rseq_percpu_arch_counter_add
        ((void *) a, (unsigned char) c[RSEQ_PERCPU_INLINE_MODE], c, (uintptr_t) n);
      if (r == RSEQ_PERCPU_DONE)
        return 0;
      /* An index beyond the slots, or cpu_id < 0 (unregistered since the
         test above: the fallback too).  */
      if (r == RSEQ_PERCPU_COMPARE_FAILED)
        break;
      RSEQ_PERCPU_INLINE_ON_ABORT ();
    }
  /* No area, or no slot: the library's fallback slot, atomically.  */
  __atomic_fetch_add ((uintptr_t *) (c + RSEQ_PERCPU_INLINE_FALLBACK),
                      (uintptr_t) n, __ATOMIC_RELAXED);
  return 0;
}

/* One load-add-store at the current index, read inside the section.  On
   the stand-in (no area) a cpu_id counter's sequence leaves by its bound
   check, and the slow path looks the area up once and adds to the
   fallback slot.  */
static inline int
rseq_percpu_inline_counter_add (void *counter, uint64_t n)
{
  char *c = (char *) counter;
  const uint32_t *a = rseq_percpu_inline_area_;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_HANDLE_OK (c)))
    {
      uintptr_t off = (unsigned char) c[RSEQ_PERCPU_INLINE_MODE];
      if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_OBJECT_OK (off, a)))
        {
          int r = rseq_percpu_arch_counter_add ((void *) a, off, c, (uintptr_t) n);
          if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
            return 0;
          if (r == RSEQ_PERCPU_ABORTED)
            RSEQ_PERCPU_INLINE_ON_ABORT ();
        }
    }
  return rseq_percpu_inline_counter_add_slow_ (counter, n);
}

static inline int
rseq_percpu_inline_counter_inc (void *counter)
{
  return rseq_percpu_inline_counter_add (counter, 1);
}

/* ---- RCU read side, as the calls: read_lock returns the period (0 or 1)
   or -EINVAL, read_unlock 0 or -EINVAL.  One load of the period word,
   then the counter's add on the period's lock (unlock) count of the
   current slot: no atomic instruction, no fence (the grace period's
   membarrier orders the readers; the asm's memory clobber keeps the
   compiler from moving the section's accesses across it).  Anything else
   (an abort, no area yet, an index beyond the slots, the FENCED bit of a
   process without membarrier, bad input) is the call, after a look-up of
   the area at the thread's first use.  */
static RSEQ_PERCPU_INLINE_SLOW int
rseq_percpu_inline_rcu_slow_ (void *rcu, int unlock, int period)
{
  int err;
  if (rseq_percpu_inline_area_ == rseq_percpu_inline_no_area_)
    (void) rseq_percpu_inline_refresh_ (RSEQ_PERCPU_CPU_ID, &err);
  return unlock ? rseq_percpu_rcu_read_unlock (rcu, period)
                : rseq_percpu_rcu_read_lock (rcu);
}

static inline int
rseq_percpu_inline_rcu_read_lock (void *rcu)
{
  char *c = (char *) rcu;
  const uint32_t *a = rseq_percpu_inline_area_;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_HANDLE_OK (c)))
    {
      uintptr_t p = __atomic_load_n ((uintptr_t *) (c + RSEQ_PERCPU_INLINE_RCU_PERIOD),
                                     __ATOMIC_RELAXED);
      uintptr_t off = (unsigned char) c[RSEQ_PERCPU_INLINE_RCU_MODE];
      if (RSEQ_PERCPU_INLINE_LIKELY (!(p & RSEQ_PERCPU_INLINE_RCU_FENCED)
                                     && RSEQ_PERCPU_INLINE_OBJECT_OK (off, a)))
        {
          int period = (int) (p & 1);
          int r = rseq_percpu_arch_counter_add ((void *) a, off, c + 8 * period, 1);
          if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
            return period;
          if (r == RSEQ_PERCPU_ABORTED)
            RSEQ_PERCPU_INLINE_ON_ABORT ();
        }
    }
  return rseq_percpu_inline_rcu_slow_ (rcu, 0, 0);
}

static inline int
rseq_percpu_inline_rcu_read_unlock (void *rcu, int period)
{
  char *c = (char *) rcu;
  const uint32_t *a = rseq_percpu_inline_area_;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_HANDLE_OK (c)
                                 && (period & ~1) == 0))
    {
      uintptr_t p = __atomic_load_n ((uintptr_t *) (c + RSEQ_PERCPU_INLINE_RCU_PERIOD),
                                     __ATOMIC_RELAXED);
      uintptr_t off = (unsigned char) c[RSEQ_PERCPU_INLINE_RCU_MODE];
      if (RSEQ_PERCPU_INLINE_LIKELY (!(p & RSEQ_PERCPU_INLINE_RCU_FENCED)
                                     && RSEQ_PERCPU_INLINE_OBJECT_OK (off, a)))
        {
          int r = rseq_percpu_arch_counter_add
            ((void *) a, off, c + RSEQ_PERCPU_INLINE_RCU_UNLOCK + 8 * period, 1);
          if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
            return 0;
          if (r == RSEQ_PERCPU_ABORTED)
            RSEQ_PERCPU_INLINE_ON_ABORT ();
        }
    }
  return rseq_percpu_inline_rcu_slow_ (rcu, 1, period);
}

/* ---- Pool: alloc/free as the calls.  One attempt inline on the current
   CPU's list; anything else (abort, empty or full list, a list being
   reclaimed, no area, no slot, bad input) is the call, which retries and
   uses the global list.  The sections load the slot's reclaim guard
   (rseq_percpu_pool_reclaim), as the library's: that is why the lookup
   function is _v2 (a program built with a header whose pool sections did
   not load it fails to link instead of racing a reclaim).  A shared pool
   (RSEQ_PERCPU_SHARED) works inline too, at the address where it was
   initialized: the inline attempt does not check that (the calls answer
   -EFAULT elsewhere), so map it at the same address in every process, as
   <rseq-percpu.h> requires.  */

/* The alloc's slow path: the call, into the inline function's local OBJ
   (see rseq_percpu_inline_pool_alloc).  */
static RSEQ_PERCPU_INLINE_SLOW int
rseq_percpu_inline_pool_alloc_slow_ (void *pool, void **obj, const uint32_t *a)
{
  if (RSEQ_PERCPU_INLINE_UNLIKELY (a == rseq_percpu_inline_no_area_))
    rseq_percpu_inline_first_lookup_ ();
  return rseq_percpu_pool_alloc (pool, obj);
}

static inline int
rseq_percpu_inline_pool_alloc (void *pool, void **out)
{
  char *p = (char *) pool;
  const uint32_t *a = rseq_percpu_inline_area_;
  unsigned off;
  void *obj; /* written by the slow path's call when it is read */
  int r;
  /* As the call (which checks OUT first).  OUT is only written here,
     never handed to a call: the slow path writes a local of this function
     instead, so a caller's object pointer whose address is OUT stays in a
     register (handed to a call, it would be stored to the stack and
     reloaded on every alloc, and the free that follows would wait for
     the reload).  */
  if (!RSEQ_PERCPU_INLINE_WORD_OK (out))
    return -EINVAL;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_HANDLE_OK (p)
                                 && (off = (unsigned char) p[RSEQ_PERCPU_INLINE_MODE],
                                     RSEQ_PERCPU_INLINE_OBJECT_OK (off, a))))
    {
      /* The index is read, bound-checked and its slot found inside the
         section (the counter's form).  */
      uintptr_t node;
      r = rseq_percpu_arch_pool_pop_current ((void *) a, off, p, &node);
      if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
        {
          /* Every object on a list is 8-aligned (the storage and the
             object size are, and a free checks it): said to the compiler,
             a free of this object that it sees drops its alignment test.  */
          if (node & 7)
            __builtin_unreachable ();
          *out = (void *) node;
          return 0;
        }
      if (r == RSEQ_PERCPU_ABORTED)
        RSEQ_PERCPU_INLINE_ON_ABORT ();
    }
  r = rseq_percpu_inline_pool_alloc_slow_ (pool, &obj, a);
  /* What the call writes: the object, or NULL on -ENOMEM; *OUT is left
     as it was on a bad handle's -EINVAL.  */
  if (r == 0 || r == -ENOMEM)
    *out = obj;
  return r;
}

static inline int
rseq_percpu_inline_pool_free (void *pool, void *obj)
{
  char *p = (char *) pool;
  const uint32_t *a = rseq_percpu_inline_area_;
  unsigned off;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_HANDLE_OK (p)
                                 && RSEQ_PERCPU_INLINE_WORD_OK (obj)
                                 && (off = (unsigned char) p[RSEQ_PERCPU_INLINE_MODE],
                                     RSEQ_PERCPU_INLINE_OBJECT_OK (off, a))))
    {
      /* Index, head and the list's depth (second word of a free object:
         the list's length from it down, bounded by the pool's per-CPU
         limit) are read inside the section; a full list is its
         compare-failed exit, and the call puts OBJ on the global list.  */
      int r = rseq_percpu_arch_pool_push_current
        ((void *) a, off, p, *(const size_t *) (p + RSEQ_PERCPU_INLINE_POOL_LIMIT),
         (uintptr_t *) obj);
      if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
        return 0;
      if (r == RSEQ_PERCPU_ABORTED)
        RSEQ_PERCPU_INLINE_ON_ABORT ();
    }
  if (RSEQ_PERCPU_INLINE_UNLIKELY (a == rseq_percpu_inline_no_area_))
    rseq_percpu_inline_first_lookup_ ();
  return rseq_percpu_pool_free (pool, obj);
}

/* ---- Handles: a counter or a pool bound to the calling thread, for a
   loop or a function that counts, allocates or frees many times.  The
   handle holds what every call above reads again (the thread's cached
   area, the object's mode byte, the pool's per-CPU limit); kept in
   registers by the caller, an operation is its restartable sequence
   alone, with the same guarantees: the section reads and bound-checks the
   index itself, and the area's cpu_id >= 0 is tested before it in both
   modes (a load and a sign test fused with its branch: one macro-op more
   than a test of the mode held in a register in cpu_id mode, one fewer
   than that test followed by the cpu_id test in mm_cid mode, where an
   unregistered area reads mm_cid 0); everything else takes the same slow
   path, after
   which the handle holds the thread's area anew (a thread that gets its
   area later uses it from then on).

   A handle belongs to the thread that initialized it (it holds that
   thread's area): another thread, or a handle copied to one, must not
   use it; a signal handler of the same thread may.  It stays valid as
   long as its object.  */
struct rseq_percpu_inline_handle
{
  const uint32_t *area;   /* the thread's cached area (or a stand-in) */
  uintptr_t off;          /* the object's index field offset: 4 or 24 */
  char *object;           /* the counter or pool */
  uintptr_t limit;        /* a pool's per-CPU limit (0 for a counter) */
};

static inline int
rseq_percpu_inline_handle_init_ (struct rseq_percpu_inline_handle *h, void *object,
                                 int is_pool)
{
  char *o = (char *) object;
  unsigned off;
  if (!RSEQ_PERCPU_INLINE_WORD_OK (h) || !RSEQ_PERCPU_INLINE_HANDLE_OK (o))
    return -EINVAL;
  off = *(const volatile unsigned char *) (o + RSEQ_PERCPU_INLINE_MODE);
  if (off != 4 && off != 24)
    return -EINVAL;
  h->area = rseq_percpu_inline_area_;
  h->off = off;
  h->object = o;
  h->limit = is_pool ? *(const size_t *) (o + RSEQ_PERCPU_INLINE_POOL_LIMIT) : 0;
  return 0;
}

/* Binds H to COUNTER (initialized by rseq_percpu_counter_init) for the
   calling thread: 0, or -EINVAL (H or COUNTER null or misaligned, or a
   counter whose mode byte is neither 4 nor 24: not initialized).  */
static inline int
rseq_percpu_inline_counter_handle (struct rseq_percpu_inline_handle *h, void *counter)
{
  return rseq_percpu_inline_handle_init_ (h, counter, 0);
}

/* Binds H to POOL (initialized by rseq_percpu_pool_init or _init_shared)
   for the calling thread, as rseq_percpu_inline_counter_handle.  */
static inline int
rseq_percpu_inline_pool_handle (struct rseq_percpu_inline_handle *h, void *pool)
{
  return rseq_percpu_inline_handle_init_ (h, pool, 1);
}

/* rseq_percpu_inline_counter_add through a handle (0 or -EINVAL).  */
static inline int
rseq_percpu_inline_handle_counter_add (struct rseq_percpu_inline_handle *h, uint64_t n)
{
  int r;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_HAS_AREA (h->area)))
    {
      r = rseq_percpu_arch_counter_add ((void *) h->area, h->off, h->object, (uintptr_t) n);
      if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
        return 0;
      if (r == RSEQ_PERCPU_ABORTED)
        RSEQ_PERCPU_INLINE_ON_ABORT ();
    }
  r = rseq_percpu_inline_counter_add_slow_ (h->object, n);
  h->area = rseq_percpu_inline_area_;
  return r;
}

static inline int
rseq_percpu_inline_handle_counter_inc (struct rseq_percpu_inline_handle *h)
{
  return rseq_percpu_inline_handle_counter_add (h, 1);
}

/* rseq_percpu_inline_pool_alloc through a handle.  */
static inline int
rseq_percpu_inline_handle_pool_alloc (struct rseq_percpu_inline_handle *h, void **out)
{
  void *obj; /* written by the slow path's call when it is read */
  int r;
  if (!RSEQ_PERCPU_INLINE_WORD_OK (out))
    return -EINVAL;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_HAS_AREA (h->area)))
    {
      uintptr_t node;
      r = rseq_percpu_arch_pool_pop_current ((void *) h->area, h->off, h->object, &node);
      if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
        {
          if (node & 7)
            __builtin_unreachable ();
          *out = (void *) node;
          return 0;
        }
      if (r == RSEQ_PERCPU_ABORTED)
        RSEQ_PERCPU_INLINE_ON_ABORT ();
    }
  r = rseq_percpu_inline_pool_alloc_slow_ (h->object, &obj, h->area);
  h->area = rseq_percpu_inline_area_;
  if (r == 0 || r == -ENOMEM)
    *out = obj;
  return r;
}

/* rseq_percpu_inline_pool_free through a handle.  */
static inline int
rseq_percpu_inline_handle_pool_free (struct rseq_percpu_inline_handle *h, void *obj)
{
  int r;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_WORD_OK (obj)
                                 && RSEQ_PERCPU_INLINE_HAS_AREA (h->area)))
    {
      r = rseq_percpu_arch_pool_push_current ((void *) h->area, h->off, h->object,
                                              h->limit, (uintptr_t *) obj);
      if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
        return 0;
      if (r == RSEQ_PERCPU_ABORTED)
        RSEQ_PERCPU_INLINE_ON_ABORT ();
    }
  if (RSEQ_PERCPU_INLINE_UNLIKELY (h->area == rseq_percpu_inline_no_area_))
    rseq_percpu_inline_first_lookup_ ();
  h->area = rseq_percpu_inline_area_;
  return rseq_percpu_pool_free (h->object, obj);
}

/* ---- Ring buffer: write as the call (the buffer used, -ENOSPC, -EINVAL).
   One attempt inline: compare the head, copy header and payload into the
   record, store head + 1; anything else is the call.  */

static inline int
rseq_percpu_inline_ring_write (void *ring, const void *payload, size_t len)
{
  char *g = (char *) ring;
  const uint32_t *a = rseq_percpu_inline_area_;
  unsigned off;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_HANDLE_OK (g)
                                 && len <= RSEQ_PERCPU_RECORD_MAX
                                 && (payload != NULL || len == 0)
                                 && (off = (unsigned char) g[RSEQ_PERCPU_INLINE_RING_MODE],
                                     RSEQ_PERCPU_INLINE_OBJECT_OK (off, a))))
    {
      const uint32_t *field = RSEQ_PERCPU_INLINE_FIELD (a, off);
      uint32_t i = *(const volatile uint32_t *) field;
      if (RSEQ_PERCPU_INLINE_LIKELY (i < RSEQ_PERCPU_INLINE_RING_CPUS))
        {
          char *buf = g + (size_t) i * RSEQ_PERCPU_INLINE_RING_BUFFER;
          /* Through the register the section commits through (see the
             arch header).  */
          uintptr_t head = rseq_percpu_arch_load_word_unindexed ((const uintptr_t *) buf);
          uintptr_t tail = __atomic_load_n
            ((uintptr_t *) (buf + RSEQ_PERCPU_INLINE_RING_TAIL), __ATOMIC_ACQUIRE);
          if (RSEQ_PERCPU_INLINE_LIKELY (head - tail < RSEQ_PERCPU_INLINE_RING_RECORDS))
            {
              /* Header: (position + 1) << 32 | length.  */
              char *rec = buf + RSEQ_PERCPU_INLINE_RING_SLOT0
                          + (head % RSEQ_PERCPU_INLINE_RING_RECORDS) * 64;
              uintptr_t first = (((uintptr_t) head + 1) << 32) | len;
              int r;
              /* A fixed payload size of 16 to 32 bytes: the branch-free
                 copy (folded away when LEN is not a constant).  */
              if (__builtin_constant_p (len) && len >= 16 && len <= 32)
                r = rseq_percpu_arch_load_cbne_store_copy16_32_store
                  ((void *) a, off, i, (uintptr_t *) buf, head, rec, first,
                   payload, len, head + 1);
              else
                r = rseq_percpu_arch_load_cbne_store_memcpy_store
                  ((void *) a, off, i, (uintptr_t *) buf, head, rec, first,
                   payload, len, head + 1);
              if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
                return (int) i;
              if (r == RSEQ_PERCPU_ABORTED)
                RSEQ_PERCPU_INLINE_ON_ABORT ();
            }
        }
    }
  if (RSEQ_PERCPU_INLINE_UNLIKELY (a == rseq_percpu_inline_no_area_))
    rseq_percpu_inline_first_lookup_ ();
  return rseq_percpu_ring_write (ring, payload, len);
}

#ifdef __cplusplus
}
#endif

#endif /* RSEQ_PERCPU_INLINE_H */
