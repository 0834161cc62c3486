/* rseq-pmu: self-monitoring PMU counters read from user space, per PMU
   type, in one restartable sequence (librseq_libc.a, crate rseq-pmu;
   docs/pmu.md).

   On a heterogeneous machine (big.LITTLE arm64, Intel hybrid) each kind of
   CPU has its own PMU with its own perf type.  A set opens, for the calling
   thread, one per-task event of the same kind on every CPU PMU type
   (/sys/bus/event_source/devices/NAME/type and NAME/cpus; x86's "cpu"
   covers every CPU) and maps each event's perf_event_mmap_page.
   rseq_pmu_read () reads the counter of the type of the CPU the thread
   runs on without a system call: one restartable sequence keyed by cpu_id
   picks the CPU's entry, follows the page's seqlock (lock, index, offset,
   pmc_width, cap_user_rdpmc) and reads the counter (mrs on aarch64, rdpmc
   on x86-64); a migration in between restarts it, so two PMUs are never
   mixed.  Where the counter cannot be read from user space, the read is
   read (2) of the same event and the reading's path says why.  Both give
   the event's count since it was opened.

   User access: aarch64 needs /proc/sys/kernel/perf_user_access = 1 when
   the set is opened (the events then carry config1 bit 1, rdpmc, and bit 0,
   64-bit, where the PMU allows it); x86-64 needs
   /sys/bus/event_source/devices/cpu/rdpmc >= 1 (the default).  riscv64:
   read (2) always (RSEQ_PMU_PATH_UNSUPPORTED).  Events are opened with
   exclude_kernel and exclude_hv (allowed at perf_event_paranoid 2).

   A set belongs to the thread that opened it (its events count that
   thread): another thread's read is -EPERM; a forked child must not read
   its parent's set.  Each entry counts only while the thread runs on a CPU
   of its type: the thread's total is the sum of rseq_pmu_read_entry () over
   the entries.

   Errors are negative errno values; bad pointers (NULL, misaligned) and
   arguments are -EINVAL, never a crash.  */

#ifndef RSEQ_PMU_H
#define RSEQ_PMU_H 1

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RSEQ_PMU_SIZE 4256     /* bytes of struct rseq_pmu */
#define RSEQ_PMU_MAX_TYPES 8   /* entries (PMU types) of one set */
#define RSEQ_PMU_MAX_CPUS 4096 /* CPUs a set maps; a list naming more: -ERANGE */

/* The set, in memory the caller provides (static, automatic or malloc'd;
   about 4 KiB).  Its contents before rseq_pmu_open* do not matter, except
   that an open set must be closed first (-EBUSY).  */
struct rseq_pmu
{
  uint64_t opaque[RSEQ_PMU_SIZE / 8];
};

/* Event kinds (rseq_pmu_open*'s KIND).  */
#define RSEQ_PMU_HARDWARE 0 /* CONFIG is PERF_COUNT_HW_*: PERF_TYPE_HARDWARE in a set
                               of one type, the extended form (CONFIG | type << 32:
                               Linux 6.0 on x86 hybrid, 6.6 on arm64) with several */
#define RSEQ_PMU_RAW 1      /* CONFIG is the PMU's raw event number; attr.type is
                               each entry's PMU type */
#define RSEQ_PMU_SOFTWARE 2 /* CONFIG is PERF_COUNT_SW_*: one entry for every CPU,
                               read (2) always (RSEQ_PMU_PATH_SOFTWARE) */

/* struct rseq_pmu_reading's path.  */
#define RSEQ_PMU_PATH_USER 0        /* the counter register, in the sequence */
#define RSEQ_PMU_PATH_NO_ACCESS 1   /* read (2): user access off (cap_user_rdpmc 0) */
#define RSEQ_PMU_PATH_NO_INDEX 2    /* read (2): the event is on no counter now (index 0) */
#define RSEQ_PMU_PATH_NO_RSEQ 3     /* read (2): the thread has no rseq area */
#define RSEQ_PMU_PATH_UNSUPPORTED 4 /* read (2): no user read on this architecture
                                       (riscv64) or of this counter (arm64's PMICNTR) */
#define RSEQ_PMU_PATH_SOFTWARE 5    /* read (2): a software event has no counter */

struct rseq_pmu_reading
{
  uint64_t count;    /* the event's count since it was opened */
  uint32_t cpu;      /* the CPU whose type was read (cpu_id in the sequence) */
  uint32_t entry;    /* the set's entry of that type */
  uint32_t pmu_type; /* that entry's perf type */
  uint32_t path;     /* RSEQ_PMU_PATH_* */
  uint32_t restarts; /* restarts of the sequence during this read */
  uint32_t index;    /* RSEQ_PMU_PATH_USER: the page's index, the counter read + 1
                        (arm64: 32 PMCCNTR_EL0, 1-31 PMEVCNTR0-30_EL0; x86-64: rdpmc's
                        ecx + 1); 0 on the read (2) paths */
};

/* One entry of rseq_pmu_open_types: a perf type and its CPUs, a CPU list as
   sysfs writes it ("0-3,8"), or NULL for every CPU no other entry names.  */
struct rseq_pmu_type
{
  uint32_t type;
  const char *cpus;
};

/* Opens KIND/CONFIG on every CPU PMU type, for the calling thread.
   0, or -EBUSY (open), -ENODEV (no CPU PMU: a VM without one), -ERANGE
   (more than RSEQ_PMU_MAX_TYPES types, a CPU beyond RSEQ_PMU_MAX_CPUS),
   -EINVAL (bad KIND, two types naming one CPU), perf_event_open (2)'s
   errors (-ENOENT: no such event on the PMU, -EACCES: paranoid).  */
int rseq_pmu_open (struct rseq_pmu *set, int kind, uint64_t config);

/* Opens KIND/CONFIG once per entry of TYPES[0..N) (1 <= N <= 8); entry I
   serves the CPUs of TYPES[I].cpus.  One type may appear twice (two events
   on one PMU, the CPUs split between them).  Errors as rseq_pmu_open.  */
int rseq_pmu_open_types (struct rseq_pmu *set, int kind, uint64_t config,
                         const struct rseq_pmu_type *types, unsigned n);

/* Reads the current CPU's counter into *OUT.  0, or -EBADF (not open),
   -EPERM (not the opening thread), -ENODEV (no entry covers this CPU),
   read (2)'s errors.  */
int rseq_pmu_read (struct rseq_pmu *set, struct rseq_pmu_reading *out);

/* read (2) of entry ENTRY's event into *COUNT, whatever CPU the thread is on.
   0, -EBADF, -EINVAL (no such entry).  */
int rseq_pmu_read_entry (const struct rseq_pmu *set, unsigned entry, uint64_t *count);

/* The number of entries (0: closed), entry ENTRY's perf type, the entry
   serving CPU (-ENODEV: none), the sequence's restarts over the set's
   life.  -EINVAL for a bad pointer or entry.  */
int rseq_pmu_entries (const struct rseq_pmu *set);
int rseq_pmu_type (const struct rseq_pmu *set, unsigned entry);
int rseq_pmu_entry_of_cpu (const struct rseq_pmu *set, unsigned cpu);
int64_t rseq_pmu_restarts (const struct rseq_pmu *set);

/* Test hook: the next TRAPS runs of the read's sequence raise SIGTRAP
   (brk / int3) inside the section, after choosing the CPU's entry, so that
   the kernel aborts them deterministically on the signal's delivery; the
   program must handle SIGTRAP (a handler that moves the thread to another
   CPU makes the restart choose again).  */
int rseq_pmu_inject_traps (struct rseq_pmu *set, unsigned traps);

/* Unmaps and closes the events.  0 or -EBADF (not open).  */
int rseq_pmu_close (struct rseq_pmu *set);

#ifdef __cplusplus
}
#endif

#endif /* rseq-pmu.h */
