/* Prints the time-slice extension's ABI values as a kernel tree defines
   them (its include/uapi/linux/rseq.h, copied in as <linux/rseq.h>, and
   include/uapi/linux/prctl.h's values passed with -D by slice.sh), for
   slice.sh to compare with the Rust definitions (abi/src).  */
#include <stddef.h>
#include <stdio.h>
#include <linux/rseq.h>

int
main (void)
{
  printf ("RSEQ_FLAG_SLICE_EXT_DEFAULT_ON %d\n", (int) RSEQ_FLAG_SLICE_EXT_DEFAULT_ON);
  printf ("RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE %u\n", (unsigned) RSEQ_CS_FLAG_SLICE_EXT_AVAILABLE);
  printf ("RSEQ_CS_FLAG_SLICE_EXT_ENABLED %u\n", (unsigned) RSEQ_CS_FLAG_SLICE_EXT_ENABLED);
  printf ("SLICE_CTRL_OFFSET %zu\n", offsetof (struct rseq, slice_ctrl));
  printf ("SLICE_REQUEST_OFFSET %zu\n", offsetof (struct rseq, slice_ctrl.request));
  printf ("SLICE_GRANTED_OFFSET %zu\n", offsetof (struct rseq, slice_ctrl.granted));
  printf ("FEATURE_SIZE_SLICE %zu\n", offsetof (struct rseq, end));
  printf ("PR_RSEQ_SLICE_EXTENSION %d\n", PR_RSEQ_SLICE_EXTENSION);
  printf ("PR_RSEQ_SLICE_EXTENSION_GET %d\n", PR_RSEQ_SLICE_EXTENSION_GET);
  printf ("PR_RSEQ_SLICE_EXTENSION_SET %d\n", PR_RSEQ_SLICE_EXTENSION_SET);
  printf ("PR_RSEQ_SLICE_EXT_ENABLE %d\n", PR_RSEQ_SLICE_EXT_ENABLE);
  printf ("RSEQ_SLICE_YIELD %d\n", NR_RSEQ_SLICE_YIELD);
  printf ("PRCTL %d\n", NR_PRCTL);
  return 0;
}
