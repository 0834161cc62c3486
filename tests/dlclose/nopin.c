/* Linked into a test plugin only: a dlopen that always fails, visible to
   the component's weak reference and to nothing outside the plugin, so that
   its constructor cannot pin the object and the destructor's fallback is
   what dlclose exercises.  */
#include <stddef.h>

__attribute__ ((visibility ("hidden"))) void *
dlopen (const char *file, int mode)
{
  (void) file;
  (void) mode;
  return NULL;
}
