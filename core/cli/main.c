/* scriptprune: the command-line tool over libscriptprune. One table lists the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_command commands[] = {
    {"select", "prune one frame of tokens with a selection method", cli_cmd_select},
    {"inspect", "describe a token-stream or safetensors file of packets as JSON lines",
     cli_cmd_inspect},
    {"stream", "run token frames through a stream offline and write its packets", cli_cmd_stream},
    {"encode", "encode one image with a CLIP, SigLIP or LLaVA model into tokens", cli_cmd_encode},
#ifdef SP_CLI_HAVE_REDIS
    {"follow", "read token packets from a Redis stream (scriptd's redis sink)", cli_cmd_follow},
#endif
};

static void usage(FILE *to) {
    fprintf(to, "usage: scriptprune COMMAND [options]   (scriptprune COMMAND --help)\n"
                "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(to, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_BAD_INPUT;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("scriptprune %s\n", SCRIPTD_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    return cli_fail(CLI_BAD_INPUT, "unknown command '%s' (try scriptprune --help)", argv[1]);
}
