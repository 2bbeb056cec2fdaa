#!/bin/sh
# Checks that every C source and header follows the repository's .clang-format (clang-format 14,
# Debian 12's). Prints the offending places and exits 1; run `clang-format -i FILE` to fix them.
#   tools/check-format.sh [CLANG_FORMAT]
set -eu
cd "$(dirname "$0")/.."
cf=${1:-clang-format}
files=$(find core gst-plugin daemon tests bench tools fuzz -name '*.[ch]' -not -path '*/out/*' | sort)
if "$cf" --dry-run -Werror $files; then
    echo "check-format: $(echo "$files" | wc -l) files follow .clang-format"
else
    echo "check-format: the files above do not follow .clang-format (fix: $cf -i FILE)" >&2
    exit 1
fi
