/* A new thread whose creator is registered but which cannot register
   itself ends the process: the creator installs a seccomp filter that makes
   rseq fail with EPERM (threads created afterwards inherit it), then
   creates a thread.  Component-owned (the hooks): a message on stderr and
   exit status 127, the start routine never runs.  glibc-owned (control):
   glibc's own fatal error, "rseq registration failed", SIGABRT.  Either way
   the process must not survive pthread_create + pthread_join; run.sh checks
   the status and the message.  */
#include "hooks_common.h"
#include "seccomp.h"

static void *
must_not_run (void *arg)
{
  static const char msg[] = "FAIL: the start routine ran unregistered\n";
  write (1, msg, sizeof msg - 1);
  return arg;
}

int
main (void)
{
  /* rseq_libc_owner also links the component's startup hooks in.  */
  int owner = rseq_libc_owner ();
  if (owner != env_int ("EXPECT_OWNER", 2) || !registered_on_right_cpu ())
    {
      printf ("FAIL: main thread not registered (owner %d)\n", owner);
      return 1;
    }
  if (fail_syscall_with (SYS_rseq, EPERM) != 0)
    {
      printf ("SKIP: cannot install a seccomp filter\n");
      return 77;
    }
  fflush (stdout);
  pthread_t t;
  int r = pthread_create (&t, NULL, must_not_run, NULL);
  if (r == 0)
    pthread_join (t, NULL);
  printf ("FAIL: the process survived a thread that could not register "
          "(pthread_create returned %d)\n", r);
  return 1;
}
