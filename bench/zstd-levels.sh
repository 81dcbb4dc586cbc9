#!/usr/bin/env bash
# Speed and ratio of zstd levels the way mdlsafe's store uses them, on row data
# unlike each other, to choose and document the default --compress-level.
#
#   bash bench/zstd-levels.sh [BUILD_DIR] [FILE...]
#
# Without files it makes two corpora in a scratch directory:
#   sysbench  56 MB of INSERT rows shaped like sysbench's (ids, numbers, groups of
#             random digits), as mdlsafe writes them: high-entropy, few repeats;
#   text      60 MB of Debian changelogs (/usr/share/doc/*/changelog*.gz): prose,
#             names, dates, with the repeats real text and JSON columns have.
# Prints a markdown table (MB/s of compression CPU, median of 21 interleaved rounds;
# ratio = input / output). Needs no server.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
BUILD=${1:-build}
shift || true
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
LEVELS=(${ZSTD_LEVELS:-1 -1 -5 -10 -20 -50})

cmake --build "$BUILD" --target bench_zstd_levels >/dev/null || { echo "zstd-levels: cannot build bench_zstd_levels in $BUILD" >&2; exit 1; }
TOOL=$BUILD/bench_zstd_levels
SCRATCH=$(mktemp -d)
trap 'rm -rf -- "$SCRATCH"' EXIT

if [ $# -eq 0 ]; then
    # sysbench's c is ten groups of 11 digits, pad five; fixed seed.
    awk 'BEGIN {
        srand(1)
        for (i = 1; i <= 280000; i++) {
            if (i % 4000 == 1) printf "INSERT INTO `sbtest1` (`id`,`k`,`c`,`pad`) VALUES\n"
            c = ""; for (g = 0; g < 10; g++) c = c sprintf("%s%05d%06d", g ? "-" : "", int(rand() * 100000), int(rand() * 1000000))
            p = ""; for (g = 0; g < 5; g++) p = p sprintf("%s%05d%06d", g ? "-" : "", int(rand() * 100000), int(rand() * 1000000))
            printf "(%d,%d,%c%s%c,%c%s%c)%s\n", i, int(rand() * 250000), 39, c, 39, 39, p, 39, (i % 4000 == 0) ? ";" : ","
        }
    }' >"$SCRATCH/sysbench"
    find /usr/share/doc -name 'changelog*.gz' -print0 | sort -z | { xargs -0 zcat -f 2>/dev/null || true; } | head -c 60000000 >"$SCRATCH/text" || true
    set -- "$SCRATCH/sysbench" "$SCRATCH/text"
fi

printf '| level |'
for f in "$@"; do printf ' %s MB/s | %s ratio |' "$(basename "$f")" "$(basename "$f")"; done
printf '\n|---|'
for _ in "$@"; do printf -- '---:|---:|'; done
printf '\n'
declare -A SPEED RATIO
for f in "$@"; do
    while IFS=$'\t' read -r level speed ratio; do
        SPEED[$f.$level]=$speed
        RATIO[$f.$level]=$ratio
    done < <("$TOOL" "$f" "${LEVELS[@]}")
done
for level in "${LEVELS[@]}"; do
    printf '| %s |' "$level"
    for f in "$@"; do printf ' %s | ×%s |' "${SPEED[$f.$level]}" "${RATIO[$f.$level]}"; done
    printf '\n'
done
