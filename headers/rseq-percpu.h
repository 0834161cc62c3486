/* rseq-percpu: per-CPU operations as restartable sequences, and the use
   cases they exist for (statistics counter, ring buffer, memory pool,
   reader lock, spin locks, read-copy-update), from librseq_libc.a.

   Inline or call: every operation below is a CALL into the library; no
   sequence is inlined into C code.  <rseq-percpu-inline.h> has inline
   versions of the raw operations and of the counter, pool and ring fast
   paths, on the same objects (mixing both kinds of call is fine).  The library emits each sequence's
   descriptor (__rseq_cs), its pointer (__rseq_cs_ptr_array), its exit
   points (__rseq_exit_point_array) and abort handler (__rseq_failure) once,
   where `rseq-libc inspect' and the GDB script find them; an inline C
   version would need the same asm in every caller.  Cost: one call and
   return plus the argument checks, about 1-2 ns on top of the sequence
   (x86-64, measured by `rseq-libc bench'; see BENCHMARKS.md):
     - raw operations (rseq_percpu_add ... ): call + area lookup (one TLS
       load) + the sequence (a few ns);
     - counter inc/add: call + one sequence, no atomic instruction;
       read/reset: a sum over 257 cache lines;
     - pool alloc/free: call + one sequence each on the fast path; the
       global list (spin lock) only on refill and overflow;
     - ring write: call + one sequence that copies header and payload;
     - read lock/unlock: call + one sequence each; write lock: a
       membarrier system call (microseconds) and a wait for readers.

   Errors are negative errno values; no entry dereferences a null or
   misaligned pointer it is given (-EINVAL).  Pointers that are non-null
   and aligned must be valid: the library cannot check more.

   Fallback: a thread without a registered rseq area makes the raw
   operations return -ENOSYS (use your own atomic path); the use-case
   objects handle it themselves with an atomic fallback slot, so their
   answers are always exact.  An area whose cpu_id is negative counts as
   no area on every path: after an unregistration the kernel writes
   cpu_id = -1 (an area whose registration failed has -2) and mm_cid then
   reads 0 in every such thread.  rseq_percpu_current_index returns
   -ENOSYS for it, every sequence checks cpu_id >= 0 inside the section
   (a sequence given an INDEX returns RSEQ_PERCPU_ABORTED, so the caller
   asks rseq_percpu_current_index again and takes its fallback;
   rseq_percpu_add_indexed returns RSEQ_PERCPU_COMPARE_FAILED), and the
   use-case objects use their fallback slot.  */

#ifndef RSEQ_PERCPU_H
#define RSEQ_PERCPU_H 1

#include <stddef.h>
#include <stdint.h>

/* The per-CPU sequences, and so these functions, exist for x86-64 and
   aarch64 so far: librseq_libc.a built for riscv64 exports no rseq_percpu_*
   symbol (docs/architectures.md).  Failing here beats an undefined reference
   at link time.  */
#if !defined(__x86_64__) && !defined(__aarch64__)
# error "rseq-percpu.h: the per-CPU API is not built for this architecture yet (x86-64 and aarch64 only; see docs/architectures.md)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Index modes: which field of struct rseq selects the per-CPU slot.  */
#define RSEQ_PERCPU_CPU_ID 0 /* cpu_id */
#define RSEQ_PERCPU_MM_CID 1 /* mm_cid (Linux 6.3+): dense concurrency ids */

/* Objects shared between processes (MAP_SHARED memory, several processes
   running sections on one object: a tracer's per-CPU buffers flushed by a
   consumer daemon, a pool shared by worker processes).  OR
   RSEQ_PERCPU_SHARED into the MODE of rseq_percpu_counter_init,
   rseq_percpu_ring_init or rseq_percpu_pool_init, or create the flush ring
   with rseq_percpu_flush_ring_init_shared.  Rules:
     - cpu_id indexing only: RSEQ_PERCPU_MM_CID | RSEQ_PERCPU_SHARED is
       -EINVAL (an mm_cid is per process: two processes both own id 0);
     - counter, ring, flush ring hold no pointer: each process may map the
       object at any address;
     - the pool links its free objects by address and hands out addresses:
       the pool and its storage must be mapped at the same address in every
       process (mapped before fork, or MAP_FIXED); its entries return
       -EFAULT in a process that maps it elsewhere;
     - a shared flush ring's flush and a shared pool's reclaim fence with
       rseq_percpu_remote_fence_shared (every process's sections), never the
       private membarrier command;
     - a process killed inside a section leaves nothing visible (a record,
       a push or a pop is one commit); see docs/percpu.md, "Shared
       memory", for what a death between two steps leaks (a consumer
       killed inside flush or consume leaves later ones -EBUSY or 0);
     - the reader lock, the spin locks and RCU are process-private
       (private membarrier, private futexes): their init refuses
       RSEQ_PERCPU_SHARED (-EINVAL).  */
#define RSEQ_PERCPU_SHARED 0x100

/* Results of the raw operations (>= 0), besides negative errno values.  */
#define RSEQ_PERCPU_DONE 0           /* committed */
#define RSEQ_PERCPU_COMPARE_FAILED 1 /* comparison failed, nothing committed */
#define RSEQ_PERCPU_ABORTED 2        /* restarted by the kernel or wrong index:
                                        read the index again and retry */

/* Where a use-case operation went: a slot index >= 0, or this.  */
#define RSEQ_PERCPU_FALLBACK (-1)

/* Alignment of the memory given to every *_init function.  */
#define RSEQ_PERCPU_ALIGN 64
/* Longest copy of rseq_percpu_load_cbne_memcpy_store.  */
#define RSEQ_PERCPU_MEMCPY_MAX 4096
/* Largest ring-buffer record payload.  */
#define RSEQ_PERCPU_RECORD_MAX 56

/* ---- Raw operations ---------------------------------------------------
   MODE is RSEQ_PERCPU_CPU_ID or RSEQ_PERCPU_MM_CID; INDEX the slot the
   caller computed from rseq_percpu_current_index (MODE).  Each returns
   RSEQ_PERCPU_DONE / _COMPARE_FAILED / _ABORTED, or -EINVAL (null or
   misaligned word, bad mode or size), -EOPNOTSUPP (mm_cid without kernel
   support), -ENOSYS (no registered area: take your fallback path).  Words
   are uintptr_t, 8-aligned, and written only by sequences that commit on
   their index.  */

/* The calling thread's cpu_id or mm_cid from its area, or -ENOSYS.  */
int rseq_percpu_current_index (int mode);

/* If *V == EXPECT, store NEWV (commit).  */
int rseq_percpu_load_cbne_store (int mode, unsigned int index, uintptr_t *v,
                                 uintptr_t expect, uintptr_t newv);

/* *V += INC (commit).  */
int rseq_percpu_add (int mode, unsigned int index, uintptr_t *v,
                     uintptr_t inc);

/* Load-add-store at an offset: reads the index I inside the sequence and
   adds INC to the word at BASE + I * STRIDE (STRIDE a multiple of 8);
   I >= SLOTS gives RSEQ_PERCPU_COMPARE_FAILED.  Stores I to *INDEX_OUT
   (if non-null) when done.  Never aborts for a wrong index: it has none.  */
int rseq_percpu_add_indexed (int mode, void *base, size_t stride,
                             unsigned int slots, uintptr_t inc,
                             unsigned int *index_out);

/* Compare-and-pop: if *HEAD is not null, *HEAD = its next pointer (at
   NEXT_OFFSET in the node) and *NODE_OUT = the node; an empty list gives
   RSEQ_PERCPU_COMPARE_FAILED and *NODE_OUT = NULL.  ABA-free.  */
int rseq_percpu_load_cbeq_pop (int mode, unsigned int index, uintptr_t *head,
                               size_t next_offset, void **node_out);

/* If *V == EXPECT: *V2 = NEWV2 (may be redone after an abort), then
   *V = NEWV (commit).  */
int rseq_percpu_load_cbne_store_store (int mode, unsigned int index,
                                       uintptr_t *v, uintptr_t expect,
                                       uintptr_t *v2, uintptr_t newv2,
                                       uintptr_t newv);

/* If *V == EXPECT: copy LEN (<= RSEQ_PERCPU_MEMCPY_MAX) bytes from SRC to
   DST, then *V = NEWV (commit: publishes the copy).  */
int rseq_percpu_load_cbne_memcpy_store (int mode, unsigned int index,
                                        uintptr_t *v, uintptr_t expect,
                                        void *dst, const void *src,
                                        size_t len, uintptr_t newv);

/* ---- Use cases ---------------------------------------------------------
   Each object lives in memory the caller provides: at least *_size ()
   bytes aligned RSEQ_PERCPU_ALIGN (e.g. aligned_alloc), initialized by
   *_init (MEM, SIZE, MODE) (MM_CID degrades to CPU_ID on older kernels).
   The objects have 256 per-CPU slots (the ring: 64 CPUs of 256 records);
   CPUs beyond use the object's atomic fallback slot.  Handles are the MEM
   pointers; a null or misaligned handle gives -EINVAL.  */

/* Statistics counter: exact totals under any interleaving.  */
size_t rseq_percpu_counter_size (void);
int rseq_percpu_counter_init (void *mem, size_t size, int mode);
int rseq_percpu_counter_inc (void *counter);
int rseq_percpu_counter_add (void *counter, uint64_t n);
/* *OUT = the total since init or the last reset.  */
int rseq_percpu_counter_read (void *counter, uint64_t *out);
/* Read-and-clear: *OLD (if non-null) = the increments counted since the
   previous reset (or init), and the total restarts from zero.  Under
   concurrency every increment is counted exactly once: the values all
   resets return, plus a read once updates stop, add up to all increments,
   whatever the interleaving (concurrent resets each return their own,
   disjoint, part; none wraps).  An increment concurrent with a reset is
   in the total that reset returns or in the next one; a read concurrent
   with a reset returns the total before it or after it.  Exact modulo
   2^64.  */
int rseq_percpu_counter_reset (void *counter, uint64_t *old);

/* Memory pool of fixed-size objects (OBJECT_SIZE a multiple of 8, >= 16),
   at most about PER_CPU_LIMIT free objects per CPU list.  */
size_t rseq_percpu_pool_size (void);
int rseq_percpu_pool_init (void *mem, size_t size, int mode,
                           size_t object_size, size_t per_cpu_limit);
/* Gives LEN bytes of 8-aligned STORAGE to the pool for good; returns the
   number of objects carved, or a negative errno.  */
long rseq_percpu_pool_add_storage (void *pool, void *storage, size_t len);
/* *OUT = an object; -ENOMEM (and *OUT = NULL) when neither the current
   CPU's list nor the global list has one: other CPUs' lists may still hold
   free objects (rseq_percpu_pool_reclaim moves them to the global list).  */
int rseq_percpu_pool_alloc (void *pool, void **out);
/* OBJ came from rseq_percpu_pool_alloc of this pool.  */
int rseq_percpu_pool_free (void *pool, void *obj);
/* Takes the whole free list of CPU (a concurrency id in mm_cid mode) to
   the global list, from any thread, while that CPU keeps allocating: for a
   CPU that went offline (its objects are not stranded; when it comes back
   it refills its list from the global one), or to rebalance.  Returns the
   number of objects moved, or -EINVAL (CPU >= 256, bad pool), -EBUSY
   (another thread is reclaiming that list), -EAGAIN (fallback only: the
   CPU cannot be visited now, e.g. offline; nothing moved),
   -EOPNOTSUPP (mm_cid mode without membarrier's rseq command), -EFAULT
   (a shared pool mapped at another address).  Costs one membarrier IPI to
   that CPU (see rseq_percpu_remote_fence); a shared pool
   (RSEQ_PERCPU_SHARED) visits the CPU instead (rseq_percpu_remote_fence_shared),
   and answers -EAGAIN where that cannot run.  */
long rseq_percpu_pool_reclaim (void *pool, unsigned int cpu);
/* Free objects on CPU's list now (a snapshot: exact only while nothing
   runs there, e.g. an offline CPU), or -EINVAL.  */
long rseq_percpu_pool_cpu_free (void *pool, unsigned int cpu);

/* Per-CPU ring buffer of records of up to RSEQ_PERCPU_RECORD_MAX bytes.
   write returns the buffer used (CPU index, or RSEQ_PERCPU_FALLBACK),
   -ENOSPC when it was full (the record is dropped and counted in lost),
   -EINVAL.  consume calls FN (ARG, where, payload, len) for each record
   and returns how many (one consumer at a time; a concurrent call returns
   0).  */
size_t rseq_percpu_ring_size (void);
int rseq_percpu_ring_init (void *mem, size_t size, int mode);
int rseq_percpu_ring_write (void *ring, const void *payload, size_t len);
long rseq_percpu_ring_consume (void *ring,
                               void (*fn) (void *arg, int where,
                                           const void *payload, size_t len),
                               void *arg);
int rseq_percpu_ring_lost (void *ring, uint64_t *out);

/* Per-CPU ring of packets with a remote flush (cpu_id indexing only): each
   CPU writes records (up to RSEQ_PERCPU_RECORD_MAX bytes) into its active
   packet of RSEQ_PERCPU_FLUSH_RECORDS records, one restartable sequence
   that loads the packet pointer inside the section; a consumer takes every
   CPU's packet away, full or not, while producers keep writing (an atomic
   exchange of the pointer, then rseq_percpu_remote_fence of that CPU), and
   puts it back on a free stack of RSEQ_PERCPU_FLUSH_PACKETS packets, from
   which any CPU installs one at its next write (a CPU that went offline
   holds none after the next flush).  write returns the CPU, or
   RSEQ_PERCPU_FALLBACK (no area, CPU >= 64: a shared buffer flushed too),
   -ENOSPC (packet full or none free: dropped and counted), -EINVAL.
   flush calls FN for each record (CPU by CPU, each packet in order) and
   returns how many, or -EBUSY (another flush runs), -EINVAL.
   drain_quiescent is flush without fences, for when no thread writes
   (packets a fallback fence could not reach included).
   init_shared makes a ring that several processes may map, at any address
   (it holds offsets, not pointers), and write and flush: its flush fences
   with rseq_percpu_remote_fence_shared (a CPU it cannot visit now keeps
   its packets pending: stats.deferred).  A ring made with init is
   process-private: its flush's membarrier fence does not stop another
   process's sections, so sharing it loses and duplicates records.
   Process death: a record is published by the one commit of its section,
   so a producer killed at any point leaves no partial record and no slot
   read twice; one killed between taking a packet off the free stack and
   installing it leaks that packet; a thread without an rseq area (or on a
   CPU >= 64) writes each record into a packet of its own, published by
   one compare-and-swap (a private ring's fallback buffer is
   reserve-then-commit, which a process killed between the two would stop
   at that slot); a consumer killed inside flush leaves later flushes
   -EBUSY.  */
#define RSEQ_PERCPU_FLUSH_RECORDS 64
#define RSEQ_PERCPU_FLUSH_PACKETS 128
struct rseq_percpu_flush_stats
{
  uint64_t records;      /* records flushed since init */
  uint64_t packets;      /* packets taken from CPUs and freed again */
  uint64_t deferred;     /* CPU fences the fallback could not run yet */
  uint64_t installs;     /* packets installed on a CPU (> PACKETS: reused) */
  uint64_t lost;         /* records dropped (full or no free packet) */
  uint64_t free_packets; /* packets on the free stack now */
};
size_t rseq_percpu_flush_ring_size (void);
int rseq_percpu_flush_ring_init (void *mem, size_t size);
int rseq_percpu_flush_ring_init_shared (void *mem, size_t size);
int rseq_percpu_flush_ring_write (void *ring, const void *payload, size_t len);
long rseq_percpu_flush_ring_flush (void *ring,
                                   void (*fn) (void *arg, int where,
                                               const void *payload,
                                               size_t len),
                                   void *arg);
long rseq_percpu_flush_ring_drain_quiescent
  (void *ring, void (*fn) (void *arg, int where, const void *payload,
                           size_t len),
   void *arg);
int rseq_percpu_flush_ring_stats (void *ring,
                                  struct rseq_percpu_flush_stats *out);
/* 1 when CPU holds an active packet, 0 when not, -EINVAL (CPU >= 64).  */
int rseq_percpu_flush_ring_has_packet (void *ring, unsigned int cpu);

/* Remote access: restarts every restartable sequence OF THE CALLING
   PROCESS running (or preempted) on CPU, so that data only sequences
   committing on CPU write may then be taken over by the caller, if those
   sequences load a guard or pointer the caller changed before the call.
   membarrier (MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
   MEMBARRIER_CMD_FLAG_CPU, CPU), Linux 5.10+: returns 0; where that is
   unavailable, the caller visits CPU (pins itself there, checks it runs
   there, restores its affinity): returns 1, or -EAGAIN when it cannot run
   there now (offline, outside its allowed CPUs).  -EINVAL for CPU >= 1024.
   The membarrier command interrupts CPU only if it runs a thread of the
   caller's process, and restarts only that thread: a section of another
   process on CPU may commit after this returns.  Use it for process-private
   data only.  */
int rseq_percpu_remote_fence (unsigned int cpu);
/* The same for data in shared memory: restarts every restartable sequence
   of EVERY process running (or preempted) on CPU.  Always visits CPU (while
   the caller runs there nothing else does, so whatever section ran there
   was preempted, which restarts it): returns 1, or -EAGAIN (offline,
   outside the caller's allowed CPUs: nothing may be assumed, retry later),
   -EINVAL for CPU >= 1024.  No membarrier command restarts another
   process's sections (MEMBARRIER_CMD_GLOBAL_EXPEDITED only executes a
   memory barrier there).  Costs two migrations of the caller (tens of
   microseconds); the caller's affinity is restored (CPUs offline during
   the call excepted).  */
int rseq_percpu_remote_fence_shared (unsigned int cpu);
/* ON != 0: every fence visits (the fallback), for tests; returns 0.  */
int rseq_percpu_remote_fallback_only (int on);

/* Per-CPU reader lock: read_lock/read_unlock are one restartable sequence
   each on the current CPU's count (no atomic instruction, no shared cache
   line); write_lock excludes writers, stops readers with
   membarrier (MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) and waits for the
   readers inside.  read_lock returns where the reader was counted.
   Readers must not take the write lock.  Process-private (init refuses
   RSEQ_PERCPU_SHARED).  */
size_t rseq_percpu_lock_size (void);
int rseq_percpu_lock_init (void *mem, size_t size, int mode);
int rseq_percpu_read_lock (void *lock);
int rseq_percpu_read_unlock (void *lock);
int rseq_percpu_write_lock (void *lock);
int rseq_percpu_write_unlock (void *lock);

/* Per-CPU read-copy-update (SRCU-style grace periods, see docs/percpu.md).
   Readers need no registration: any thread, signal handlers, constructors,
   nested sections.  read_lock adds 1 to the current period's lock count of
   the current CPU's slot (one restartable sequence, no atomic instruction,
   no fence) and returns the period (0 or 1); read_unlock(PERIOD) adds 1 to
   that period's unlock count on whatever CPU the thread runs then.
   synchronize waits until every section that started before it has ended:
   it waits for the inactive period to drain, flips the period, waits for
   the old one (lock and unlock sums equal around a
   membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)), sleeping between checks;
   concurrent callers share grace periods.  call queues FUNC(HEAD) to run
   after a grace period (HEAD embedded in the object it frees); every
   1024th call runs the queued callbacks in the calling thread, barrier
   runs every callback queued before it.  synchronize, call and barrier
   must not be called inside a read-side section or a signal handler; a
   callback must not call barrier.  Without rseq or membarrier, readers
   count in an atomic fallback line with full fences (same semantics).
   Process-private (init refuses RSEQ_PERCPU_SHARED).  Errors: -EINVAL for
   a null or misaligned object, head or function, or a PERIOD other than
   0 or 1.  */
struct rseq_percpu_rcu_head
{
  struct rseq_percpu_rcu_head *next;
  void (*func) (struct rseq_percpu_rcu_head *);
};
size_t rseq_percpu_rcu_size (void);
int rseq_percpu_rcu_init (void *mem, size_t size, int mode);
int rseq_percpu_rcu_read_lock (void *rcu);
int rseq_percpu_rcu_read_unlock (void *rcu, int period);
int rseq_percpu_rcu_synchronize (void *rcu);
int rseq_percpu_rcu_call (void *rcu, struct rseq_percpu_rcu_head *head,
                          void (*func) (struct rseq_percpu_rcu_head *));
int rseq_percpu_rcu_barrier (void *rcu);
int rseq_percpu_rcu_readers (void *rcu, uint64_t *out);

/* Spin locks that track their holder's preemption (adaptive mutexes: spin,
   then sleep on a futex).  While held, the holder has an rseq time-slice
   extension requested (Linux 7.0+ with CONFIG_RSEQ_SLICE_EXTENSION; a
   no-op elsewhere) and publishes its CPU in the lock; a waiter that finds,
   in one restartable sequence, that this CPU is its own knows the holder is
   not running and sleeps instead of spinning.  A holder not running on
   another CPU is not detectable: waiters also sleep after SPIN_LIMIT spin
   iterations (< 0: default 1000; 0: no spinning).  Process-private
   (private futexes: not for memory shared between processes), not
   recursive; correct without rseq (plain adaptive lock).
   lock/unlock return 0 or -EINVAL (bad handle); trylock 0 or -EBUSY;
   unlock -EPERM when nobody holds the lock.  stats copies at most SIZE
   bytes of the counters.
   fork: as with pthread mutexes, the child of a fork has one thread, and
   may unlock a lock that the forking thread held at the fork (the
   pthread_atfork idiom: prepare locks, parent and child unlock), then use
   every lock normally, also from threads it creates; waiters of the
   parent's other threads are not inherited (the NUMA lock's waiter
   counts are cleared at the child's first slow path, Linux 4.14+).  A
   lock held by another thread of the parent at the fork stays held for
   good in the child.  */
struct rseq_percpu_lock_stats
{
  uint64_t contended;          /* lock calls that found it held */
  uint64_t spin_acquired;      /* ... and got it without sleeping */
  uint64_t holder_not_running; /* waiter saw the holder's CPU was its own */
  uint64_t spin_exhausted;     /* waiter's spin budget ran out */
  uint64_t sleeps;             /* futex waits (waiter sleeps) */
  uint64_t wakes;              /* futex wakes */
  uint64_t slice_requested;    /* holds with a slice extension requested */
  uint64_t slice_granted;      /* ... granted: holder preemptions avoided */
  uint64_t handoff_local;      /* NUMA: to a waiter of the holder's node */
  uint64_t handoff_remote;     /* NUMA: to another node's waiter */
  uint64_t handoff_bounded;    /* NUMA: remote because of the bound */
};
size_t rseq_percpu_spinlock_size (void);
int rseq_percpu_spinlock_init (void *mem, size_t size, int spin_limit);
int rseq_percpu_spinlock_lock (void *lock);
int rseq_percpu_spinlock_trylock (void *lock);
int rseq_percpu_spinlock_unlock (void *lock);
int rseq_percpu_spinlock_stats (void *lock,
                                struct rseq_percpu_lock_stats *out,
                                size_t size);

/* NUMA-aware variant: unlock hands the lock to a waiter of the holder's
   node (rseq node_id; vDSO getcpu without rseq) first, at most BOUND
   (<= 0: default 16) times in a row while another node has waiters, then
   to the next node with waiters.  Nodes count modulo 32.  lock returns how
   the lock came (RSEQ_PERCPU_HANDOFF_*) or -EINVAL; lock_as takes it as
   node NODE (>= 0); waiters returns the waiters of NODE now.  */
#define RSEQ_PERCPU_HANDOFF_NONE 0              /* taken free */
#define RSEQ_PERCPU_HANDOFF_LOCAL 1             /* same node, counted */
#define RSEQ_PERCPU_HANDOFF_LOCAL_UNCONTESTED 2 /* same node, none else */
#define RSEQ_PERCPU_HANDOFF_REMOTE 3            /* from another node */
size_t rseq_percpu_numa_lock_size (void);
int rseq_percpu_numa_lock_init (void *mem, size_t size, int spin_limit,
                                int bound);
int rseq_percpu_numa_lock (void *lock);
int rseq_percpu_numa_lock_as (void *lock, int node);
int rseq_percpu_numa_trylock (void *lock);
int rseq_percpu_numa_unlock (void *lock);
int rseq_percpu_numa_waiters (void *lock, int node);
int rseq_percpu_numa_stats (void *lock, struct rseq_percpu_lock_stats *out,
                            size_t size);

#ifdef __cplusplus
}
#endif

#endif /* RSEQ_PERCPU_H */
