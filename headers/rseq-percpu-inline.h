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
   counter's inc/add, the pool's alloc/free fast paths and the ring's
   write.  The reader lock, counter read/reset, pool storage and ring
   consume stay calls.

   The thread's area: found once per thread through the library
   (rseq_percpu_inline_area_v2: the area the libc or rseq-libc registered,
   whoever owns the thread) and cached in an initial-exec TLS pointer; an
   area whose cpu_id reads < 0 (unregistered, or registration failed) is
   "no area" and sends the operation to the slow path, which looks the area
   up again.  A thread without an area starts with a constant stand-in whose
   cpu_id is -1, so the fast path has one test for both.  mm_cid indexing is
   used only when the kernel fills mm_cid (feature size >= 28: objects are
   initialized in cpu_id mode otherwise, raw operations return
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

/* The stand-in area of a thread without one: cpu_id (word 1) is -1, so the
   fast paths' one test sends the thread to the slow path.  Never written:
   no sequence runs on it.  */
static const uint32_t rseq_percpu_inline_no_area_[8]
  __attribute__ ((__aligned__ (32), __unused__))
  = { 0, 0xffffffffu, 0, 0, 0, 0, 0, 0 };

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

/* Looks the area up again (first use, or a cached area that lost its
   registration); returns the area for MODE or NULL with *ERR set.  */
static RSEQ_PERCPU_INLINE_SLOW const uint32_t *
rseq_percpu_inline_refresh_ (int mode, int *err)
{
  int e = 0, em = 0;
  const uint32_t *a
    = (const uint32_t *) rseq_percpu_inline_area_v2 (RSEQ_PERCPU_CPU_ID, &e);
  const uint32_t *m
    = (const uint32_t *) rseq_percpu_inline_area_v2 (RSEQ_PERCPU_MM_CID, &em);
  rseq_percpu_inline_area_ = a ? a : rseq_percpu_inline_no_area_;
  rseq_percpu_inline_mm_area_ = m ? m : rseq_percpu_inline_no_area_;
  if (mode == RSEQ_PERCPU_MM_CID)
    {
      *err = em;
      return m;
    }
  if (mode != RSEQ_PERCPU_CPU_ID)
    {
      *err = -EINVAL;
      return NULL;
    }
  *err = e;
  return a;
}

/* The calling thread's area for MODE, or NULL with *ERR set.  */
static inline const uint32_t *
rseq_percpu_inline_area_for_ (int mode, int *err)
{
  const uint32_t *a;
  if (mode == RSEQ_PERCPU_CPU_ID)
    a = rseq_percpu_inline_area_;
  else if (mode == RSEQ_PERCPU_MM_CID)
    a = rseq_percpu_inline_mm_area_;
  else
    {
      *err = -EINVAL;
      return NULL;
    }
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_HAS_AREA (a)))
    return a;
  return rseq_percpu_inline_refresh_ (mode, err);
}

#define RSEQ_PERCPU_INLINE_MODE_OFFSET(mode) \
  ((mode) == RSEQ_PERCPU_MM_CID ? 24 : 4)
#define RSEQ_PERCPU_INLINE_WORD_OK(p) \
  ((p) != NULL && ((uintptr_t) (p) & 7) == 0)
#define RSEQ_PERCPU_INLINE_HANDLE_OK(p) \
  ((p) != NULL && ((uintptr_t) (p) & (RSEQ_PERCPU_ALIGN - 1)) == 0)

/* ---- Raw operations: as the calls of the same name in <rseq-percpu.h>
   (same arguments, results and errors), inlined.  */

static inline int
rseq_percpu_inline_current_index (int mode)
{
  int err = 0;
  const uint32_t *a = rseq_percpu_inline_area_for_ (mode, &err);
  if (!a)
    return err;
  return (int) *(const volatile uint32_t *)
    RSEQ_PERCPU_INLINE_FIELD (a, RSEQ_PERCPU_INLINE_MODE_OFFSET (mode));
}

static inline int
rseq_percpu_inline_load_cbne_store (int mode, unsigned int index,
                                    uintptr_t *v, uintptr_t expect,
                                    uintptr_t newv)
{
  int err = 0;
  const uint32_t *a;
  if (!RSEQ_PERCPU_INLINE_WORD_OK (v))
    return -EINVAL;
  a = rseq_percpu_inline_area_for_ (mode, &err);
  if (!a)
    return err;
  return rseq_percpu_arch_load_cbne_store
    ((void *) a, RSEQ_PERCPU_INLINE_FIELD (a, RSEQ_PERCPU_INLINE_MODE_OFFSET (mode)),
     index, v, expect, newv);
}

static inline int
rseq_percpu_inline_add (int mode, unsigned int index, uintptr_t *v,
                        uintptr_t inc)
{
  int err = 0;
  const uint32_t *a;
  if (!RSEQ_PERCPU_INLINE_WORD_OK (v))
    return -EINVAL;
  a = rseq_percpu_inline_area_for_ (mode, &err);
  if (!a)
    return err;
  return rseq_percpu_arch_add
    ((void *) a, RSEQ_PERCPU_INLINE_FIELD (a, RSEQ_PERCPU_INLINE_MODE_OFFSET (mode)),
     index, v, inc);
}

static inline int
rseq_percpu_inline_add_indexed (int mode, void *base, size_t stride,
                                unsigned int slots, uintptr_t inc,
                                unsigned int *index_out)
{
  int err = 0, r;
  uint32_t i = 0;
  const uint32_t *a;
  if (!RSEQ_PERCPU_INLINE_WORD_OK (base) || stride == 0 || (stride & 7) != 0
      || slots == 0 || (size_t) (slots - 1) > SIZE_MAX / stride
      || ((uintptr_t) index_out & (sizeof (unsigned int) - 1)) != 0)
    return -EINVAL;
  a = rseq_percpu_inline_area_for_ (mode, &err);
  if (!a)
    return err;
  r = rseq_percpu_arch_add_indexed
    ((void *) a, RSEQ_PERCPU_INLINE_FIELD (a, RSEQ_PERCPU_INLINE_MODE_OFFSET (mode)),
     (char *) base, stride, slots, inc, &i);
  if (r == RSEQ_PERCPU_DONE && index_out)
    *index_out = i;
  return r;
}

static inline int
rseq_percpu_inline_load_cbeq_pop (int mode, unsigned int index,
                                  uintptr_t *head, size_t next_offset,
                                  void **node_out)
{
  int err = 0, r;
  uintptr_t node = 0;
  const uint32_t *a;
  if (!RSEQ_PERCPU_INLINE_WORD_OK (head)
      || !RSEQ_PERCPU_INLINE_WORD_OK (node_out) || (next_offset & 7) != 0)
    return -EINVAL;
  a = rseq_percpu_inline_area_for_ (mode, &err);
  if (!a)
    return err;
  r = rseq_percpu_arch_load_cbeq_pop
    ((void *) a, RSEQ_PERCPU_INLINE_FIELD (a, RSEQ_PERCPU_INLINE_MODE_OFFSET (mode)),
     index, head, next_offset, &node);
  *node_out = r == RSEQ_PERCPU_DONE ? (void *) node : NULL;
  return r;
}

static inline int
rseq_percpu_inline_load_cbne_store_store (int mode, unsigned int index,
                                          uintptr_t *v, uintptr_t expect,
                                          uintptr_t *v2, uintptr_t newv2,
                                          uintptr_t newv)
{
  int err = 0;
  const uint32_t *a;
  if (!RSEQ_PERCPU_INLINE_WORD_OK (v) || !RSEQ_PERCPU_INLINE_WORD_OK (v2))
    return -EINVAL;
  a = rseq_percpu_inline_area_for_ (mode, &err);
  if (!a)
    return err;
  return rseq_percpu_arch_load_cbne_store_store
    ((void *) a, RSEQ_PERCPU_INLINE_FIELD (a, RSEQ_PERCPU_INLINE_MODE_OFFSET (mode)),
     index, v, expect, v2, newv2, newv);
}

static inline int
rseq_percpu_inline_load_cbne_memcpy_store (int mode, unsigned int index,
                                           uintptr_t *v, uintptr_t expect,
                                           void *dst, const void *src,
                                           size_t len, uintptr_t newv)
{
  int err = 0;
  const uint32_t *a;
  if (!RSEQ_PERCPU_INLINE_WORD_OK (v) || len > RSEQ_PERCPU_MEMCPY_MAX
      || (len != 0 && (dst == NULL || src == NULL)))
    return -EINVAL;
  a = rseq_percpu_inline_area_for_ (mode, &err);
  if (!a)
    return err;
  return rseq_percpu_arch_load_cbne_memcpy_store
    ((void *) a, RSEQ_PERCPU_INLINE_FIELD (a, RSEQ_PERCPU_INLINE_MODE_OFFSET (mode)),
     index, v, expect, dst, src, len, newv);
}

/* ---- Counter: inc/add as the calls (0 or -EINVAL).  */

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
          a = rseq_percpu_inline_refresh_ (RSEQ_PERCPU_CPU_ID, &err);
          if (!a)
            break;
        }
      r = rseq_percpu_arch_counter_add
        ((void *) a, RSEQ_PERCPU_INLINE_FIELD (a, (unsigned char) c[RSEQ_PERCPU_INLINE_MODE]),
         c, (uintptr_t) n);
      if (r == RSEQ_PERCPU_DONE)
        return 0;
      if (r == RSEQ_PERCPU_COMPARE_FAILED) /* an index beyond the slots */
        break;
      RSEQ_PERCPU_INLINE_ON_ABORT ();
    }
  /* No area, or no slot: the library's fallback slot, atomically.  */
  __atomic_fetch_add ((uintptr_t *) (c + RSEQ_PERCPU_INLINE_FALLBACK),
                      (uintptr_t) n, __ATOMIC_RELAXED);
  return 0;
}

/* One load-add-store at the current index, read inside the section.  */
static inline int
rseq_percpu_inline_counter_add (void *counter, uint64_t n)
{
  char *c = (char *) counter;
  const uint32_t *a = rseq_percpu_inline_area_;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_HANDLE_OK (c)
                                 && RSEQ_PERCPU_INLINE_HAS_AREA (a)))
    {
      int r = rseq_percpu_arch_counter_add
        ((void *) a,
         RSEQ_PERCPU_INLINE_FIELD (a, (unsigned char) c[RSEQ_PERCPU_INLINE_MODE]),
         c, (uintptr_t) n);
      if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
        return 0;
      if (r == RSEQ_PERCPU_ABORTED)
        RSEQ_PERCPU_INLINE_ON_ABORT ();
    }
  return rseq_percpu_inline_counter_add_slow_ (counter, n);
}

static inline int
rseq_percpu_inline_counter_inc (void *counter)
{
  return rseq_percpu_inline_counter_add (counter, 1);
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

static inline int
rseq_percpu_inline_pool_alloc (void *pool, void **out)
{
  char *p = (char *) pool;
  const uint32_t *a = rseq_percpu_inline_area_;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_HANDLE_OK (p)
                                 && RSEQ_PERCPU_INLINE_WORD_OK (out)
                                 && RSEQ_PERCPU_INLINE_HAS_AREA (a)))
    {
      const uint32_t *field
        = RSEQ_PERCPU_INLINE_FIELD (a, (unsigned char) p[RSEQ_PERCPU_INLINE_MODE]);
      uint32_t i = *(const volatile uint32_t *) field;
      if (RSEQ_PERCPU_INLINE_LIKELY (i < RSEQ_PERCPU_INLINE_SLOTS))
        {
          uintptr_t node;
          int r = rseq_percpu_arch_pool_pop
            ((void *) a, field, i,
             (uintptr_t *) (p + (size_t) i * RSEQ_PERCPU_INLINE_STRIDE),
             &node);
          if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
            {
              *out = (void *) node;
              return 0;
            }
          if (r == RSEQ_PERCPU_ABORTED)
            RSEQ_PERCPU_INLINE_ON_ABORT ();
        }
    }
  return rseq_percpu_pool_alloc (pool, out);
}

static inline int
rseq_percpu_inline_pool_free (void *pool, void *obj)
{
  char *p = (char *) pool;
  const uint32_t *a = rseq_percpu_inline_area_;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_HANDLE_OK (p)
                                 && RSEQ_PERCPU_INLINE_WORD_OK (obj)
                                 && RSEQ_PERCPU_INLINE_HAS_AREA (a)))
    {
      const uint32_t *field
        = RSEQ_PERCPU_INLINE_FIELD (a, (unsigned char) p[RSEQ_PERCPU_INLINE_MODE]);
      uint32_t i = *(const volatile uint32_t *) field;
      if (RSEQ_PERCPU_INLINE_LIKELY (i < RSEQ_PERCPU_INLINE_SLOTS))
        {
          uintptr_t *word
            = (uintptr_t *) (p + (size_t) i * RSEQ_PERCPU_INLINE_STRIDE);
          uintptr_t head = *(volatile uintptr_t *) word;
          /* The list's length from its head down (second word of a free
             object): a bound, read outside the section, as the library.  */
          uintptr_t depth = head ? ((volatile uintptr_t *) head)[1] : 0;
          if (RSEQ_PERCPU_INLINE_LIKELY
                (depth < *(const size_t *) (p + RSEQ_PERCPU_INLINE_POOL_LIMIT)))
            {
              int r;
              ((volatile uintptr_t *) obj)[0] = head;
              ((volatile uintptr_t *) obj)[1] = depth + 1;
              r = rseq_percpu_arch_pool_push ((void *) a, field, i, word,
                                              head, (uintptr_t) obj);
              if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
                return 0;
              if (r == RSEQ_PERCPU_ABORTED)
                RSEQ_PERCPU_INLINE_ON_ABORT ();
            }
        }
    }
  return rseq_percpu_pool_free (pool, obj);
}

/* ---- Ring buffer: write as the call (the buffer used, -ENOSPC, -EINVAL).
   One attempt inline: compare the head, copy header and payload into the
   record, store head + 1; anything else is the call.  */

static inline int
rseq_percpu_inline_ring_write (void *ring, const void *payload, size_t len)
{
  char *g = (char *) ring;
  const uint32_t *a = rseq_percpu_inline_area_;
  if (RSEQ_PERCPU_INLINE_LIKELY (RSEQ_PERCPU_INLINE_HANDLE_OK (g)
                                 && len <= RSEQ_PERCPU_RECORD_MAX
                                 && (payload != NULL || len == 0)
                                 && RSEQ_PERCPU_INLINE_HAS_AREA (a)))
    {
      const uint32_t *field = RSEQ_PERCPU_INLINE_FIELD
        (a, (unsigned char) g[RSEQ_PERCPU_INLINE_RING_MODE]);
      uint32_t i = *(const volatile uint32_t *) field;
      if (RSEQ_PERCPU_INLINE_LIKELY (i < RSEQ_PERCPU_INLINE_RING_CPUS))
        {
          char *buf = g + (size_t) i * RSEQ_PERCPU_INLINE_RING_BUFFER;
          uintptr_t head = *(volatile uintptr_t *) buf;
          uintptr_t tail = __atomic_load_n
            ((uintptr_t *) (buf + RSEQ_PERCPU_INLINE_RING_TAIL), __ATOMIC_ACQUIRE);
          if (RSEQ_PERCPU_INLINE_LIKELY (head - tail < RSEQ_PERCPU_INLINE_RING_RECORDS))
            {
              /* Header: (position + 1) << 32 | length.  */
              int r = rseq_percpu_arch_load_cbne_store_memcpy_store
                ((void *) a, field, i, (uintptr_t *) buf, head,
                 buf + RSEQ_PERCPU_INLINE_RING_SLOT0
                   + (head % RSEQ_PERCPU_INLINE_RING_RECORDS) * 64,
                 (((uintptr_t) head + 1) << 32) | len, payload, len, head + 1);
              if (RSEQ_PERCPU_INLINE_LIKELY (r == RSEQ_PERCPU_DONE))
                return (int) i;
              if (r == RSEQ_PERCPU_ABORTED)
                RSEQ_PERCPU_INLINE_ON_ABORT ();
            }
        }
    }
  return rseq_percpu_ring_write (ring, payload, len);
}

#ifdef __cplusplus
}
#endif

#endif /* RSEQ_PERCPU_INLINE_H */
