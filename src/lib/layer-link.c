/* Linked with one layer's every object and the layers below it only
   (src/lib/meson.build): a layer that calls into one above it fails here,
   at build time.  */
int main (void);

int
main (void)
{
  return 0;
}
