/* The demo the `rseq-libc` report builds and runs in every host: one line
   with what this program sees.  */
#define _GNU_SOURCE 1
#include <stdio.h>
#include <rseq-libc.h>

int
main (void)
{
  static const char *const owners[] = { "none", "libc", "component" };
  static const char *const reasons[] = { "registered", "unavailable", "disabled", "failed",
                                          "unhooked", "exiting", "application" };
  int owner = rseq_libc_owner ();
  int reason = rseq_libc_none_reason ();
  struct rseq *area = rseq_libc_area ();
  printf ("owner=%s reason=%s cpu=%d node=%d mm_cid=%d area_cpu_id=%d feature_size=%u __rseq_size=%u\n",
          owners[owner], reason < 7 ? reasons[reason] : "?", rseq_libc_current_cpu (),
          rseq_libc_current_node (), rseq_libc_current_mm_cid (),
          area ? (int) area->cpu_id : -1, rseq_libc_feature_size (), __rseq_size);
  return 0;
}
