/* The shared-object build linked into an executable: its constructor finds
   the executable's link map and must do nothing; registration, the per-CPU
   counter and exit behave as in any program.  */
#include "check.h"
#include <rseq-libc.h>

int plugin_use (int with_counter, struct rseq **area);

static int
api_cpu (void)
{
  return rseq_libc_current_cpu ();
}

int
main (void)
{
  struct rseq *area = NULL;
  int expect_owner = env_int ("EXPECT_OWNER", -1);
  for (int i = 0; i < 3; i++)
    {
      int owner = plugin_use (1, &area);
      CHECK (owner == expect_owner, "owner %d, expected %d", owner, expect_owner);
      CHECK (area != NULL, "no area");
    }
  int expect, cpu = read_cpu_stable (api_cpu, &expect);
  CHECK (cpu == expect, "cpu %d, getcpu %d", cpu, expect);
  printf ("executable: %d passed, %d failed\n", checks_passed, checks_failed);
  return checks_failed != 0;
}
