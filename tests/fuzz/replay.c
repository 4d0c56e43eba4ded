/* Replays a fuzz corpus through a fuzz target without libFuzzer, so the
   ordinary (gcc, ASan+UBSan) test build checks every saved input on each
   run.  Real fuzzing uses clang -fsanitize=fuzzer: see `make fuzz`.  */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
main (int argc, char **argv)
{
  int n = 0;
  printf ("1..%d\n", argc - 1);
  for (int i = 1; i < argc; i++)
    {
      cleanup_dir DIR *d = opendir (argv[i]);
      struct dirent *de;
      int files = 0;
      if (d == NULL)
        {
          printf ("not ok %d - %s: cannot open the corpus\n", i, argv[i]);
          continue;
        }
      while ((de = readdir (d)) != NULL)
        {
          cleanup_free char *path = NULL, *buf = NULL;
          size_t len = 0;
          if (de->d_name[0] == '.')
            continue;
          path = xasprintf ("%s/%s", argv[i], de->d_name);
          if (read_file (path, 0, &buf, &len, NULL) < 0)
            continue;
          LLVMFuzzerTestOneInput ((const uint8_t *)buf, len);
          files++;
        }
      /* A crash aborts before this line: ok means every input passed.  */
      printf ("ok %d - %s: %d inputs\n", i, argv[i], files);
      n += files;
    }
  return n > 0 ? 0 : 1;
}
