/* Placeholder until the broker lands (issue 3). */
#include <stdio.h>

#include "main.h"

int server_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "sluice server: the broker is not built yet\n");
    return 1;
}
