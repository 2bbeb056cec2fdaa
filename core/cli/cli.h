/* Shared pieces of the scriptprune command-line tool: the subcommand table, option parsing, strict
 * number parsing and loading token matrices from "file.npy" or "file.safetensors[:tensor]". */
#ifndef SP_CLI_H
#define SP_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "scriptprune/error.h"
#include "scriptprune/npy.h"
#include "scriptprune/wire.h"
#include "scriptprune/params.h"

/* Exit statuses: 2 for bad input or usage (scripts rely on it), 1 for other failures. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_BAD_INPUT = 2 };

typedef int (*cli_command_fn)(int argc, char **argv);

typedef struct cli_command {
    const char *name;
    const char *summary;
    cli_command_fn run;
} cli_command;

/* Prints "scriptprune: error: <message>" on one line to stderr and returns the exit status. */
int cli_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Maps a core status to an exit status: input problems are CLI_BAD_INPUT. */
int cli_status_exit(sp_status st);

/* The val of a command's --help entry in its option table. */
enum { CLI_OPT_HELP = 'h' };

/* One command's options: each command lists its long options and handles each one's value; the
 * getopt loop, --help, and refusing unknown options and leftover arguments are shared. */
typedef struct cli_options {
    const char *command;        /* "select": prefixes every usage error */
    const struct option *table; /* long options only, ending with {0}; --help has CLI_OPT_HELP */
    /* Applies option `c` (its val in the table) with its argument (NULL for flags) to `args`. */
    sp_status (*apply)(void *args, int c, const char *arg, sp_error *err);
    /* After every option applied: required options and rules across options. */
    sp_status (*finish)(void *args, sp_error *err);
    void (*usage)(FILE *to);
} cli_options;

/* Parses a command's arguments (argv[0] is the command's name) into `args`, already holding the
 * defaults. Returns true when the command should run; otherwise *exit_status is what the command
 * returns: CLI_OK after --help printed the usage on stdout, CLI_BAD_INPUT after one line on
 * stderr, "COMMAND: <why> (see scriptprune COMMAND --help)", for the first bad option. */
bool cli_parse_command_line(int argc, char **argv, const cli_options *o, void *args,
                            int *exit_status);
/* "OPTION is required" unless `present`. */
sp_status cli_require(bool present, const char *option, sp_error *err);

/* Strict parsers: the whole string must be a number within [lo, hi]; the message names `what`. */
sp_status cli_parse_size(const char *s, const char *what, size_t lo, size_t hi, size_t *out,
                         sp_error *err);
sp_status cli_parse_u64(const char *s, const char *what, uint64_t *out, sp_error *err);
sp_status cli_parse_float(const char *s, const char *what, double lo, double hi, float *out,
                          sp_error *err);
/* "HxW" with both >= 1. */
sp_status cli_parse_grid(const char *s, uint32_t *h, uint32_t *w, sp_error *err);

/* ---- options made from core's parameter table (cli_params.c) ---- */

/* Option vals of table parameters: CLI_OPT_PARAM + sp_param_id (above every character). */
enum { CLI_OPT_PARAM = 1000, CLI_MAX_OPTIONS = 64 };

/* A command's option table: its own options, then one --dashed-name option per parameter of
 * `scope` (SP_PARAM_IN_STREAM, SP_PARAM_IN_SELECT). Lives as long as the parse. */
typedef struct cli_param_options {
    struct option table[CLI_MAX_OPTIONS];
    char names[SP_PARAM_COUNT][40];
} cli_param_options;

void cli_param_options_init(cli_param_options *o, unsigned scope, const struct option *fixed);
/* The table parameter of option val c, or NULL when c is a command's own option. */
const sp_param_info *cli_param_of_option(int c);
/* Parses an option's argument for parameter pi; messages name the option ("--gsp-keep"). */
sp_status cli_param_parse(const sp_param_info *pi, const char *arg, double *out, sp_error *err);
/* Two usage lines per parameter of scope: the option, then its doc, default (or "required" for
 * the option the command requires) and range, from the table. */
void cli_param_usage(FILE *to, unsigned scope, sp_param_id required);
/* "scriptprune: warning: OLD is deprecated: use NEW" on stderr. */
void cli_warn_deprecated(const char *old_option, const char *new_option);

/* Loads a float matrix (a 1-D array reads as one row, out->ndim says which) from "X.npy" or
 * "X.safetensors:name" ("X.safetensors" alone when it holds exactly one tensor). A 2-D array may
 * have zero rows. */
sp_status cli_load_matrix(const char *spec, sp_matrix *out, sp_error *err);

/* Packet lines of inspect and follow: the "positions" member (",\"positions\":[[pts, last_pts,
 * seen, frame, y, x], ...]"; last_pts and seen null when !have_span), and the tokens seen in the
 * span that starts at pts_first. */
void cli_print_positions(const sp_token_info *info, size_t n, bool have_span);
size_t cli_count_current(const sp_token_info *info, size_t n, int64_t pts_first);

int cli_cmd_select(int argc, char **argv);
int cli_cmd_inspect(int argc, char **argv);
int cli_cmd_stream(int argc, char **argv);
#ifdef SP_CLI_HAVE_REDIS
int cli_cmd_follow(int argc, char **argv);
#endif

#endif
