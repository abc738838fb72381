#!/bin/sh
# Arrows only go down: reads every #include "..." of src/ against the
# floors of scripts/layers.txt and fails on an include that runs up (a
# header of a floor listed later), on a header that is in no floor or in
# two, on a folder of src/ that is not a floor, and on a circle of
# headers including each other.
#
# Usage: check-layers.sh [SRCDIR]   (default: the tree this script is in)
# Exits 1 and prints file:line for each problem; 0 when the tree is clean.
set -eu
top=${1:-$(dirname "$0")/..}
cd "$top"

floors=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' scripts/layers.txt | awk '{print $1}')
if [ -z "$floors" ]; then
    echo "check-layers: no floors in scripts/layers.txt" >&2
    exit 2
fi

# Every .c and .h of src/, with the rank of its floor, as "rank path".
list=$(n=0
    for f in $floors; do
        n=$((n + 1))
        [ -d "src/$f" ] || { echo "check-layers: floor $f has no folder src/$f" >&2; exit 2; }
        find "src/$f" -maxdepth 1 -name '*.[ch]' | LC_ALL=C sort | sed "s|^|$n |"
    done)

problems=$(
    # Folders or files of src/ outside every floor.
    for d in src/*; do
        b=${d#src/}
        if [ -d "$d" ]; then
            echo "$floors" | grep -qx "$b" || echo "$d: a folder of src/ that is no floor of scripts/layers.txt"
        else
            echo "$d: a file directly in src/; it belongs in a floor's folder"
        fi
    done
    # Includes, resolved by file name (every floor is on the include path).
    echo "$list" | awk -v floors="$(echo $floors)" '
        BEGIN { n = split(floors, fl, " ") }
        { rank[$2] = $1; path[NR] = $2
          base = $2; sub(/.*\//, "", base)
          if (base in owner) dup[base] = owner[base] " and " $2
          owner[base] = $2 }
        END {
            for (b in dup) print "src: header " b " is in two floors: " dup[b]
            for (i = 1; i <= NR; i++) {
                f = path[i]; line = 0
                while ((getline l < f) > 0) {
                    line++
                    if (l !~ /^[ \t]*#[ \t]*include[ \t]*"/) continue
                    h = l; sub(/^[^"]*"/, "", h); sub(/".*/, "", h)
                    if (h == "config.h") continue
                    if (!(h in owner)) { print f ":" line ": includes \"" h "\", which is in no floor"; continue }
                    t = owner[h]
                    if (rank[t] > rank[f])
                        print f ":" line ": includes " h " of floor " fl[rank[t]] \
                              ", above its own floor " fl[rank[f]]
                    if (f ~ /\.h$/) edge[f] = edge[f] " " t
                }
                close(f)
            }
            # Circles of headers: a depth-first search over header includes.
            for (f in edge) if (!(f in state)) visit(f, "")
        }
        function visit(f, trail,    k, m, e, s) {
            state[f] = 1
            m = split(edge[f], e, " ")
            for (k = 1; k <= m; k++) {
                s = (e[k] in state) ? state[e[k]] : 0 # a reference would create it
                if (s == 1) print "src: headers include each other in a circle:" trail " " f " -> " e[k]
                else if (s == 0) visit(e[k], trail " " f " ->")
            }
            state[f] = 2
        }')
if [ -n "$problems" ]; then
    printf "%s\n" "$problems"
    echo "check-layers: the includes above run up or out of the floors (scripts/layers.txt)" >&2
    exit 1
fi
echo "check-layers: $(echo "$list" | wc -l) files on $(echo "$floors" | wc -l) floors, every include runs down or across"
