/* What a per-CPU counter increment costs on this CPU, piece by piece: the
   floor loop of bench_inline.c, then the same loop with the pieces of the
   rseq increment added one at a time, each as one hand-written asm loop
   (x86-64; no rseq registration, no kernel involvement: the "area" is a
   static array whose cpu_id is 1 and whose mode byte selects it).  Rounds
   interleaved, best of ROUNDS.  Explains BENCHMARKS.md's "counter <= 1.3x
   the floor: missed": which instructions the increment cannot drop and
   what each one costs.

   Build and run: gcc -O2 tests/percpu/counter_anatomy.c -o counter_anatomy
   && taskset -c 0 ./counter_anatomy [ROUNDS]  */
#define _GNU_SOURCE 1
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__thread uint32_t *anatomy_cache;   /* the Rust cache: &cpu_id */
__thread uint32_t *anatomy_cache_c; /* the inline C header's: the area */
uint32_t anatomy_area[8] __attribute__ ((aligned (32))) = { 0, 1, 0, 0, 0, 0, 1, 0 };
unsigned char anatomy_obj[16576] __attribute__ ((aligned (64))); /* counter */
uint64_t anatomy_desc[4] __attribute__ ((aligned (32)));

/* One loop: r8 = &cpu_id, r13 and r9 = the caches' TLS offsets, r14 = the counter,
   r12d = 64 * 256 (the bound), ebx = 1; BODY, then the loop branch.  */
#define LOOP(name, body)                                                \
  __attribute__ ((noinline)) static void name (long n)                 \
  {                                                                     \
    __asm__ volatile ("mov %[n], %%r15\n\t"                             \
                      "mov anatomy_cache@gottpoff(%%rip), %%r13\n\t"    \
                      "mov anatomy_cache_c@gottpoff(%%rip), %%r9\n\t"   \
                      "lea anatomy_obj(%%rip), %%r14\n\t"               \
                      "mov $16384, %%r12d\n\t"                          \
                      "mov $1, %%ebx\n\t"                               \
                      "lea anatomy_area+4(%%rip), %%r8\n\t"             \
                      ".p2align 5\n\t"                                  \
                      "1:\n\t" body                                     \
                      "dec %%r15\n\t"                                   \
                      "jne 1b\n\t"                                      \
                      : : [n] "r" (n)                                   \
                      : "rax", "rcx", "rdx", "rbx", "r8", "r9", "r11",  \
                        "r12", "r13", "r14", "r15", "memory", "cc");    \
  }

#define TLS "mov %%fs:(%%r13), %%rcx\n\t"        /* the cached area (cpu_id) */
#define MODE "movzbl 0x4050(%%r14), %%edx\n\t"   /* the object's mode byte */
#define PUBLISH "lea anatomy_desc(%%rip), %%rax\n\t" "mov %%rax, 4(%%rcx)\n\t"
#define CHECK "cmpl $0, (%%rcx)\n\t" "js anatomy_bail\n\t"
#define INDEX "imul $64, -4(%%rcx,%%rdx), %%eax\n\t"
#define BOUND "cmp %%r12d, %%eax\n\t" "jae anatomy_bail\n\t"
#define ADD "add %%rbx, (%%r14,%%rax)\n\t"
#define RESULT "test %%rax, %%rax\n\t" "js anatomy_bail\n\t"

/* bench_inline.c's floor: cpu_id from the area, a plain add to its slot.  */
LOOP (floor_loop, "movl (%%r8), %%eax\n\t" "shl $6, %%eax\n\t"
      "addq $1, (%%r14,%%rax)\n\t")
/* Any rseq increment's minimum: publish the descriptor, read the index
   from the area, add (area and mode in registers, no check).  */
LOOP (minimum, "lea anatomy_desc(%%rip), %%rax\n\t" "mov %%rax, 4(%%r8)\n\t"
      "imul $64, (%%r8), %%eax\n\t" ADD)
/* + the TLS load of the cached area and the index through it.  */
LOOP (tls, TLS "imul $64, (%%rcx), %%eax\n\t" ADD)
/* + the object's mode byte selecting the index field.  */
LOOP (mode, TLS MODE INDEX ADD)
/* + publishing the descriptor (rseq_cs).  */
LOOP (publish, TLS MODE PUBLISH INDEX ADD)
/* + the in-section area check (cpu_id >= 0).  */
LOOP (check, TLS MODE PUBLISH CHECK INDEX ADD)
/* + the bound and the outcome test: the Rust counter's loop.  */
LOOP (rust, TLS MODE PUBLISH CHECK INDEX BOUND ADD RESULT)
/* The inline C header's counter loop, as gcc 12 -O2 emits it for
   bench_inline.c (its cache holds the area itself).  */
LOOP (c_inline, "mov %%fs:(%%r9), %%rax\n\t" "mov 0x4(%%rax), %%edx\n\t"
      "test %%edx, %%edx\n\t" "js anatomy_bail\n\t" MODE
      "add %%rax, %%rdx\n\t" "lea anatomy_desc(%%rip), %%r11\n\t"
      "mov %%r11, 8(%%rax)\n\t" "mov (%%rdx), %%r11d\n\t"
      "cmp $0x100, %%r11d\n\t" "jae anatomy_bail\n\t" "shl $6, %%r11\n\t"
      "addq $1, (%%r14,%%r11)\n\t")

__asm__ (".text\nanatomy_bail:\n\tcall abort\n");

static double
now_ns (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec * 1e9 + (double) t.tv_nsec;
}

int
main (int argc, char **argv)
{
  static const struct { const char *name, *what; void (*fn) (long); } v[] = {
    { "floor", "cpu_id load, plain add to its slot (bench_inline.c)", floor_loop },
    { "rseq minimum", "floor + descriptor publish (area, mode in registers)", minimum },
    { "+ tls", "floor + the cached area from TLS, the index through it", tls },
    { "+ mode", "the object's mode byte picks the index field", mode },
    { "+ publish", "lea + store of the descriptor to rseq_cs", publish },
    { "+ check", "in-section cpu_id >= 0", check },
    { "+ bound, result", "index bound, outcome test: the Rust loop", rust },
    { "C inline", "the inline C header's loop", c_inline },
  };
  enum { NV = sizeof v / sizeof v[0] };
  long rounds = argc > 1 ? atol (argv[1]) : 15, n = 20000000;
  double best[NV];
  anatomy_cache = &anatomy_area[1];
  anatomy_cache_c = anatomy_area;
  anatomy_obj[0x4050] = 4; /* cpu_id mode */
  for (int i = 0; i < NV; i++)
    best[i] = 1e30;
  for (long r = 0; r < rounds; r++)
    for (int i = 0; i < NV; i++)
      {
        double t = now_ns ();
        v[i].fn (n);
        t = (now_ns () - t) / (double) n;
        if (t < best[i])
          best[i] = t;
      }
  printf ("| loop | ns/iteration | / floor | what it adds |\n|---|---|---|---|\n");
  for (int i = 0; i < NV; i++)
    printf ("| %s | %.3f | %.2fx | %s |\n", v[i].name, best[i],
            best[i] / best[0], v[i].what);
  return 0;
}
