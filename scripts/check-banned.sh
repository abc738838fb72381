#!/bin/sh
# Second line of defence behind src/base/cs_banned.h: the macros there make
# a banned call fail to compile, but "(strcpy)(a, b)", "#undef strcpy" and
# taking a banned function's address get past a function-like macro, and a
# file that somehow escapes the forced include is not checked at all.  This
# greps every C file of the project for those names instead.
#
# Usage: check-banned.sh [SRCDIR]   (default: the tree this script is in)
# Exits 1 and prints file:line for each hit; 0 when the tree is clean.
set -eu
top=${1:-$(dirname "$0")/..}
cd "$top"

# The list of names is the one in the header: "#define NAME(...) CS_BANNED(".
names=$(sed -n 's/^#define \([a-z_][a-z0-9_]*\)(\.\.\.) CS_BANNED(.*/\1/p' src/base/cs_banned.h |
    paste -sd '|' -)
if [ -z "$names" ]; then
    echo "check-banned: no banned names found in src/base/cs_banned.h" >&2
    exit 2
fi

# A call, also through parentheses ("strcpy (" or "(strcpy)("), but not a
# member such as "p->gets("; an #undef; a reference after "=", "&" or ",".
call="(^|[^[:alnum:]_.>])($names)[[:space:]]*\)?[[:space:]]*\("
undef="^[[:space:]]*#[[:space:]]*undef[[:space:]]+($names)([^[:alnum:]_]|$)"
ref="[=&,][[:space:]]*($names)[[:space:]]*[;,)]"

files=$(find src tests bench -name '*.[ch]' ! -path src/base/cs_banned.h | LC_ALL=C sort)
# shellcheck disable=SC2086 # file names have no spaces
if hits=$(grep -HnE "$call|$undef|$ref" $files); then
    printf "%s\n" "$hits"
    echo "check-banned: the calls above are banned (src/base/cs_banned.h says what to use instead)" >&2
    exit 1
fi
echo "check-banned: no banned functions in $(echo "$files" | wc -l) files"
