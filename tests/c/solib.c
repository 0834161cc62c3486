/* A shared library that links the component itself (built with
   --no-default-features, without the executable-only startup hooks) and
   uses it through the API: registration is lazy there.  */
#include "check.h"
#include <rseq-libc.h>

static int
api_cpu (void)
{
  return rseq_libc_current_cpu ();
}

int
solib_check (int expect_owner, int *passed)
{
  int owner = rseq_libc_owner ();
  CHECK (owner == expect_owner, "owner %d, expected %d", owner, expect_owner);
  struct rseq *area = rseq_libc_area ();
  CHECK ((area != NULL) == (expect_owner != RSEQ_LIBC_OWNER_NONE), "area %p", (void *) area);
  int expect, cpu = read_cpu_stable (api_cpu, &expect);
  CHECK (cpu == expect, "cpu %d, getcpu %d", cpu, expect);
  *passed = checks_passed;
  return checks_failed;
}
