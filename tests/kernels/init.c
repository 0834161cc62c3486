/* PID 1 of the kernel-matrix guests (tests/kernels/matrix.sh): no shell, no
   busybox.  Mounts /proc, /sys, /dev and /tmp, runs every line of /plan
   with a time limit, and prints on the console, for each:

     @@BEGIN NAME
     (the program's stdout and stderr, at most OUTPUT_MAX bytes)
     @@END NAME rc=STATUS secs=SECONDS

   STATUS is the exit status, 128 + N for death by signal N, or "timeout"
   (the process group was killed).  The host side (run.sh) judges each
   result; this program only runs and reports.  Then it powers off.

   /plan: one program per line, "NAME SECONDS [KEY=VALUE ...] -- PROGRAM
   [ARGS ...]", fields separated by single spaces (no quoting).  KEY=VALUE
   pairs go to the environment (CWD=DIR also changes directory).  In every
   field @FS@ becomes the kernel's AT_RSEQ_FEATURE_SIZE (0 when it reports
   none), @FS20@ the same or 20 where it reports none (the pre-6.3 value
   the component assumes), @FS2032@ that capped at 32 (what glibc 2.36 with
   the series publishes in __rseq_size), @ALIGN@ AT_RSEQ_ALIGN (0 when
   none).  Lines
   starting with # are skipped.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUTPUT_MAX (96 * 1024)
#define MAX_TOKENS 128

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
power_off (void)
{
  sync ();
  reboot (RB_POWER_OFF);
  /* Only reached if reboot failed: panicking (PID 1 exits) makes qemu,
     started with -no-reboot, exit too.  */
  _exit (1);
}

static char fs_str[32], fs20_str[32], fs2032_str[32], align_str[32];

/* Expands @FS@, @FS20@, @FS2032@ and @ALIGN@ in TOK into a new string.  */
static char *
expand (const char *tok)
{
  static const struct { const char *key; const char *val; } subst[] = {
    { "@FS2032@", fs2032_str }, { "@FS20@", fs20_str }, { "@FS@", fs_str },
    { "@ALIGN@", align_str },
  };
  char buf[4096];
  size_t n = 0;
  while (*tok && n < sizeof buf - 32)
    {
      size_t i;
      for (i = 0; i < sizeof subst / sizeof subst[0]; i++)
        if (strncmp (tok, subst[i].key, strlen (subst[i].key)) == 0)
          break;
      if (i < sizeof subst / sizeof subst[0])
        {
          n += snprintf (buf + n, sizeof buf - n, "%s", subst[i].val);
          tok += strlen (subst[i].key);
        }
      else
        buf[n++] = *tok++;
    }
  buf[n] = 0;
  return strdup (buf);
}

/* Copies the program's output file to the console, at most OUTPUT_MAX
   bytes (the head and the tail when longer: the verdict lines are last).  */
static void
dump_output (const char *path)
{
  int fd = open (path, O_RDONLY);
  if (fd < 0)
    return;
  struct stat st;
  fstat (fd, &st);
  char buf[8192];
  ssize_t r;
  off_t skip_from = -1, skip_to = -1;
  if (st.st_size > OUTPUT_MAX)
    {
      skip_from = OUTPUT_MAX / 4;
      skip_to = st.st_size - (OUTPUT_MAX - OUTPUT_MAX / 4);
    }
  off_t pos = 0;
  while ((r = read (fd, buf, sizeof buf)) > 0)
    {
      ssize_t start = 0, end = r;
      if (skip_from >= 0)
        {
          /* Keep only [0, skip_from) and [skip_to, size).  */
          if (pos + r <= skip_from || pos >= skip_to)
            ;
          else if (pos < skip_from)
            {
              end = skip_from - pos;
              write (1, buf, end);
              printf ("\n[... %lld bytes left out ...]\n",
                      (long long) (skip_to - skip_from));
              fflush (stdout);
              if (pos + r > skip_to)
                {
                  start = skip_to - pos;
                  end = r;
                }
              else
                {
                  pos += r;
                  continue;
                }
            }
          else
            {
              if (pos + r <= skip_to)
                {
                  pos += r;
                  continue;
                }
              start = skip_to - pos;
            }
        }
      write (1, buf + start, end - start);
      pos += r;
    }
  close (fd);
}

static void
run_line (char *line)
{
  char *tok[MAX_TOKENS];
  int ntok = 0;
  for (char *save, *t = strtok_r (line, " ", &save); t && ntok < MAX_TOKENS - 1;
       t = strtok_r (NULL, " ", &save))
    tok[ntok++] = expand (t);
  tok[ntok] = NULL;
  if (ntok < 4)
    return;
  const char *name = tok[0];
  double limit = atof (tok[1]);
  int sep = 2;
  while (sep < ntok && strcmp (tok[sep], "--") != 0)
    sep++;
  if (sep >= ntok - 1)
    {
      printf ("@@BEGIN %s\nbad plan line\n@@END %s rc=plan secs=0\n", name, name);
      fflush (stdout);
      return;
    }

  printf ("@@BEGIN %s\n", name);
  fflush (stdout);
  double t0 = now ();
  pid_t pid = fork ();
  if (pid == 0)
    {
      setpgid (0, 0);
      clearenv ();
      setenv ("PATH", "/bin", 1);
      setenv ("HOME", "/tmp", 1);
      const char *cwd = "/tmp";
      for (int i = 2; i < sep; i++)
        {
          putenv (tok[i]);
          if (strncmp (tok[i], "CWD=", 4) == 0)
            cwd = tok[i] + 4;
        }
      if (chdir (cwd) != 0)
        perror ("chdir");
      int out = open ("/tmp/.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int in = open ("/dev/null", O_RDONLY);
      dup2 (in, 0);
      dup2 (out, 1);
      dup2 (out, 2);
      close (in);
      close (out);
      sigset_t none;
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      execv (tok[sep + 1], tok + sep + 1);
      fprintf (stderr, "init: execv %s: %s\n", tok[sep + 1], strerror (errno));
      _exit (127);
    }
  char rc[32] = "fork-failed";
  if (pid > 0)
    {
      int status;
      for (;;)
        {
          pid_t w = waitpid (-1, &status, WNOHANG);
          if (w == pid)
            {
              if (WIFEXITED (status))
                snprintf (rc, sizeof rc, "%d", WEXITSTATUS (status));
              else
                snprintf (rc, sizeof rc, "%d", 128 + WTERMSIG (status));
              break;
            }
          if (w > 0)
            continue; /* an orphan reparented to us */
          if (now () - t0 > limit)
            {
              kill (-pid, SIGKILL);
              kill (pid, SIGKILL);
              waitpid (pid, &status, 0);
              snprintf (rc, sizeof rc, "timeout");
              break;
            }
          struct timespec ts = { 0, 20 * 1000 * 1000 };
          nanosleep (&ts, NULL);
        }
      /* Whatever the program left behind in its group goes too.  */
      kill (-pid, SIGKILL);
      while (waitpid (-1, &status, WNOHANG) > 0)
        ;
    }
  double secs = now () - t0;
  dump_output ("/tmp/.out");
  printf ("\n@@END %s rc=%s secs=%.1f\n", name, rc, secs);
  fflush (stdout);
  for (int i = 0; i < ntok; i++)
    if (i < 2 || i >= sep)
      free (tok[i]); /* env strings stay: putenv in the child only */
}

int
main (void)
{
  mkdir ("/proc", 0755);
  mkdir ("/sys", 0755);
  mkdir ("/dev", 0755);
  mkdir ("/tmp", 01777);
  mount ("proc", "/proc", "proc", 0, NULL);
  mount ("sysfs", "/sys", "sysfs", 0, NULL);
  mount ("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  int con = open ("/dev/console", O_RDWR);
  if (con >= 0)
    {
      dup2 (con, 0);
      dup2 (con, 1);
      dup2 (con, 2);
      if (con > 2)
        close (con);
    }
  setvbuf (stdout, NULL, _IOLBF, 0);

  unsigned long fs = getauxval (27), align = getauxval (28);
  snprintf (fs_str, sizeof fs_str, "%lu", fs);
  snprintf (fs20_str, sizeof fs20_str, "%lu", fs ? fs : 20);
  snprintf (fs2032_str, sizeof fs2032_str, "%lu", !fs ? 20 : fs > 32 ? 32 : fs);
  snprintf (align_str, sizeof align_str, "%lu", align);
  struct utsname u;
  uname (&u);
  printf ("\n@@KERNEL release=%s feature_size=%lu align=%lu cpus=%ld\n", u.release,
          fs, align, sysconf (_SC_NPROCESSORS_ONLN));

  FILE *plan = fopen ("/plan", "r");
  if (!plan)
    {
      printf ("@@ERROR no /plan\n");
      power_off ();
    }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline (&line, &cap, plan)) > 0)
    {
      if (line[len - 1] == '\n')
        line[--len] = 0;
      if (len == 0 || line[0] == '#')
        continue;
      run_line (line);
    }
  printf ("@@DONE\n");
  power_off ();
}
