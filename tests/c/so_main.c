/* Runs solib_check from a program that does not link the component.  */
#include "check.h"

int solib_check (int expect_owner, int *passed);

int
main (void)
{
  int passed = 0, failed = solib_check (env_int ("EXPECT_OWNER", -1), &passed);
  printf ("shared object: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
