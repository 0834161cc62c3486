/* Links libplugin.so (plugin.c) and prints the owner it reports.  */
#include <stdio.h>

int plugin_owner (void);

int
main (void)
{
  static const char *const owners[] = { "none", "libc", "component" };
  int owner = plugin_owner ();
  if (owner < 0 || owner > 2)
    printf ("owner=error %d\n", owner);
  else
    printf ("owner=%s\n", owners[owner]);
  return owner < 0;
}
