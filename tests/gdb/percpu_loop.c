/* 1,000 per-CPU increments, each a restartable sequence in librseq's
   section layout (descriptor in __rseq_cs, listed in __rseq_cs_ptr_array,
   exits in __rseq_exit_point_array, abort handler in __rseq_failure after
   RSEQ_SIG), on the area rseq-libc registers or adopts.  tests/gdb/run.sh
   single-steps it under gdb with and without gdb/rseq.py.
   Exits 0 when the per-CPU slots sum to exactly INCREMENTS.  */
#include <stdint.h>
#include <stdio.h>
#include <rseq-libc.h>

#define INCREMENTS 1000
#define MAX_CPUS 4096

/* One cache line per CPU.  */
static struct { int64_t count; int64_t pad[7]; } slots[MAX_CPUS];
/* Progress, read by the debugger: committed increments and aborts.  */
volatile long increments_done;
volatile long aborts;

/* Adds 1 to CPU's slot if the thread is still on CPU when it commits.
   Returns 0 when committed, -1 when aborted.  */
static __attribute__ ((noinline)) int
percpu_increment (struct rseq *area, int64_t *slot, uint32_t cpu)
{
  __asm__ goto (
      ".pushsection __rseq_cs, \"aw\"\n\t"
      ".balign 32\n\t"
      "3:\n\t"
      ".long 0x0, 0x0\n\t"
      ".quad 1f, (2f - 1f), 4f\n\t"
      ".popsection\n\t"
      ".pushsection __rseq_cs_ptr_array, \"aw\"\n\t"
      ".quad 3b\n\t"
      ".popsection\n\t"
      ".pushsection __rseq_exit_point_array, \"aw\"\n\t"
      ".quad 1f, 2f\n\t"
      ".popsection\n\t"
      "leaq 3b(%%rip), %%rax\n\t"
      "movq %%rax, %[rseq_cs]\n\t"
      "1:\n\t"
      "cmpl %[cpu], %[cpu_id]\n\t"
      "jnz 4f\n\t"
      "addq $1, %[slot]\n\t"
      "2:\n\t"
      ".pushsection __rseq_failure, \"ax\"\n\t"
      ".byte 0x0f, 0xb9, 0x3d\n\t"
      ".long 0x53053053\n\t"
      "4:\n\t"
      "jmp %l[aborted]\n\t"
      ".popsection\n\t"
      :
      : [rseq_cs] "m" (area->rseq_cs), [cpu_id] "m" (area->cpu_id),
        [cpu] "r" (cpu), [slot] "m" (*slot)
      : "memory", "cc", "rax"
      : aborted);
  return 0;
aborted:
  return -1;
}

int
main (void)
{
  int err = rseq_libc_register_current_thread ();
  struct rseq *area = rseq_libc_area ();
  if (err != 0 || area == NULL)
    {
      printf ("SKIP: no rseq area (%d)\n", err);
      return 77;
    }
  for (int i = 0; i < INCREMENTS; i++)
    {
      for (;;)
        {
          uint32_t cpu = *(volatile uint32_t *) &area->cpu_id_start;
          if (cpu < MAX_CPUS && percpu_increment (area, &slots[cpu].count, cpu) == 0)
            break;
          aborts = aborts + 1;
        }
      increments_done = increments_done + 1;
    }
  int64_t total = 0;
  for (int cpu = 0; cpu < MAX_CPUS; cpu++)
    total += slots[cpu].count;
  printf ("total %lld of %d, %ld aborts\n", (long long) total, INCREMENTS, aborts);
  return total == INCREMENTS ? 0 : 1;
}
