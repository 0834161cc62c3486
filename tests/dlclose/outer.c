/* A library with no code of interest that needs the plugin (DT_NEEDED):
   dlopen (outer) loads the plugin as a dependency, and the plugin's
   constructor pins it from inside that outer dlopen.  */
int
outer_marker (void)
{
  return 1;
}
