/* A shared library that creates a thread itself: its pthread_create call
   reaches the hooks only through dynamic symbol interposition.  The thread
   asks the kernel whether it is registered: registering another area fails
   with EINVAL when one is registered already.  */
#define _GNU_SOURCE 1
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/syscall.h>

static struct { unsigned int w[8]; } __attribute__ ((aligned (32))) probe_area[64];

static void *
probe (void *arg)
{
  unsigned int *area = probe_area[(long) arg % 64].w;
  long r = syscall (SYS_rseq, area, 32, 0, 0x53053053);
  if (r == 0)
    {
      syscall (SYS_rseq, area, 32, 1, 0x53053053);
      return (void *) 0;
    }
  return (void *) (long) (errno == EINVAL);
}

int
hookslib_spawn (void)
{
  pthread_t t;
  void *r = (void *) -1L;
  if (pthread_create (&t, NULL, probe, NULL) != 0 || pthread_join (t, &r) != 0)
    return -1;
  return (int) (long) r;
}
