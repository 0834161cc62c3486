/* Cross-architecture check of RSEQ_SIG from <sys/rseq.h>.

   rseq_sig_probe() emits RSEQ_SIG immediately before an abort label, the way
   an rseq abort handler is laid out, so run.sh can
     - disassemble this object and see which instruction the word decodes to
       (between the symbols rseq_sig_insn and rseq_sig_abort);
     - run "sig word": the 4 bytes before the abort label, read as data (what
       the kernel compares), must equal RSEQ_SIG -> exit 0;
     - run "sig trap": execution falls into the signature, which must kill the
       process with a signal; reaching the exit (0) after it is a failure.  */

#include <sys/rseq.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RSEQ_SIG
# error "RSEQ_SIG is not defined for this architecture"
#endif

#define STR_(x) #x
#define STR(x) STR_(x)

#if defined(__x86_64__) || defined(__i386__)
/* 0f b9 3d + the signature: ud1 0x53053053(%rip),%edi  */
# define SIG_INSN ".byte 0x0f, 0xb9, 0x3d\n\t.long " STR(RSEQ_SIG)
#elif defined(__aarch64__)
/* .inst: emitted as code (always little-endian), decoded as an instruction
   by objdump (.long would get a $d mapping symbol and show as data).  */
# ifdef RSEQ_SIG_CODE
#  define SIG_INSN ".inst " STR(RSEQ_SIG_CODE)
# else
#  define SIG_INSN ".inst " STR(RSEQ_SIG)
# endif
#elif defined(__arm__)
# if defined(__thumb__)
/* Thumb code (Debian armhf's default): RSEQ_SIG is an A32 instruction, and
   ".inst" of a 32-bit value would be a T32 instruction stored high halfword
   first, which is not RSEQ_SIG as data.  Emit the two halfwords in data
   order: def3 is "udf #243", so falling into it still traps.  */
#  ifdef __ARMEB__
#   error "Thumb big-endian probe not supported"
#  endif
#  define SIG_INSN ".inst.n 0xdef3\n\t.inst.n 0xe7f5"
# elif defined(__ARMEB__)
#  define SIG_INSN ".inst 0xe7f5def3"
# else
#  define SIG_INSN ".inst " STR(RSEQ_SIG)
# endif
#elif defined(__riscv)
/* .insn keeps the word in a code ($x) region for objdump.  */
# define SIG_INSN ".insn 4, " STR(RSEQ_SIG)
#else
# define SIG_INSN ".long " STR(RSEQ_SIG)
#endif

extern const unsigned char rseq_sig_insn[];
extern const unsigned char rseq_sig_abort[];

__attribute__((noinline, noclone)) void
rseq_sig_probe (void)
{
  __asm__ __volatile__ (
    ".globl rseq_sig_insn\n"
    "rseq_sig_insn:\n\t"
    SIG_INSN "\n"
    ".globl rseq_sig_abort\n"
    "rseq_sig_abort:\n\t"
    ::: "memory");
}

int
main (int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "";

  if (strcmp (mode, "word") == 0)
    {
      uint32_t word;
      uintptr_t abort_ip = (uintptr_t) rseq_sig_abort;
      /* Hide the address's origin from the compiler's bounds checks.  */
      __asm__ ("" : "+r" (abort_ip));
      memcpy (&word, (const void *) (abort_ip - 4), sizeof word);
      printf ("word before abort label: 0x%08x, RSEQ_SIG: 0x%08x\n",
              (unsigned int) word, (unsigned int) RSEQ_SIG);
      return word == (uint32_t) RSEQ_SIG ? 0 : 1;
    }
  if (strcmp (mode, "trap") == 0)
    {
      fflush (stdout);
      rseq_sig_probe ();
      /* Only reached if the signature did not trap.  */
      fprintf (stderr, "signature did not trap\n");
      exit (0);
    }
  fprintf (stderr, "usage: %s word|trap\n", argv[0]);
  return 2;
}
