#!/usr/bin/env bash
# Builds conv4j's native kernels (native/) with gcc, against the OpenBLAS of the org.bytedeco:openblas
# preset that the Maven build uses, and runs their self-test.
#
#   bash cppbuild.sh             target/native/libconv4j.a and libconv4j.so, then the self-test, with
#                                and without CONV4J_NO_AVX512 and CONV4J_NO_AVX2
#   bash cppbuild.sh --lib       the static library only: what `mvn package` runs before JavaCPP links
#                                the library into the JNI library (no self-test)
#   bash cppbuild.sh --sanitize  the self-test built and run under AddressSanitizer and
#                                UndefinedBehaviorSanitizer, with and without CONV4J_NO_AVX512 and CONV4J_NO_AVX2
#   bash cppbuild.sh --vec       also print gcc's vectorization report for the kernels
#
# Every .c file under native/ but the self-test is compiled on its own into the library, the files
# named *_avx512.c with -mavx512f -mfma and those named *_avx2.c with -mavx2 -mfma (they run only
# where the CPU has AVX-512, or AVX2 and FMA: see
# native/common/conv4j_dispatch.h); everything else is baseline x86-64, since what ships must run on
# any x86-64 CPU: no -march=native. OPENBLAS_JAR names the preset's linux-x86_64 jar (Maven passes
# the one it resolved); by default it is looked up in ~/.m2.
set -euo pipefail
cd "$(dirname "$0")"

OPENBLAS_VERSION=0.3.31-1.5.13
PLATFORM=linux-x86_64
JAR="${OPENBLAS_JAR:-$HOME/.m2/repository/org/bytedeco/openblas/$OPENBLAS_VERSION/openblas-$OPENBLAS_VERSION-$PLATFORM.jar}"
OUT=target/native
CFLAGS="-O3 -march=x86-64 -m64 -fPIC -fvisibility=hidden -std=gnu11 -Wall -Wextra -Wno-unused-parameter"
AVX512="-mavx512f -mfma"
AVX2="-mavx2 -mfma"
SANITIZE="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"

mode=${1:-}
case "$mode" in
    ""|--lib|--sanitize|--vec) ;;
    *) echo "usage: bash cppbuild.sh [--lib | --sanitize | --vec]" >&2; exit 2 ;;
esac

if [[ ! -f "$JAR" ]]; then
    mvn -q -B dependency:get -Dartifact="org.bytedeco:openblas:$OPENBLAS_VERSION:jar:$PLATFORM" -Dtransitive=false
fi
mkdir -p "$OUT/openblas"
unzip -q -o "$JAR" "org/bytedeco/openblas/$PLATFORM/include/*" "org/bytedeco/openblas/$PLATFORM/libopenblas.so.0" \
    "org/bytedeco/openblas/$PLATFORM/libgfortran.so.5" "org/bytedeco/openblas/$PLATFORM/libquadmath.so.0" -d "$OUT/openblas"
BLAS="$OUT/openblas/org/bytedeco/openblas/$PLATFORM"

# compile DIR FLAGS...: every kernel file into DIR/*.o, two at a time
compile() {
    local dir=$1
    shift
    rm -rf "$dir"
    mkdir -p "$dir"
    find native -name '*.c' ! -path 'native/selftest/*' | sort | while read -r src; do
        local extra=""
        [[ "$src" == *_avx512.c ]] && extra="$AVX512"
        [[ "$src" == *_avx2.c ]] && extra="$AVX2"
        local obj="$dir/$(basename "$(dirname "$src")")_$(basename "$src" .c).o"
        printf '%s\0' "gcc $* $extra -I native -I $BLAS/include -c $src -o $obj"
    done | xargs -0 -n 1 -P 2 sh -c
}

# selftest NAME FLAGS...: links native/selftest against the objects of $OUT/NAME and runs it both ways
selftest() {
    local name=$1
    shift
    gcc "$@" -I native -I "$BLAS/include" -o "$OUT/$name/conv4j_selftest" native/selftest/*.c "$OUT/$name"/*.o \
        -L "$BLAS" -l:libopenblas.so.0 -lm -Wl,-rpath,"$(pwd)/$BLAS"
    "$OUT/$name/conv4j_selftest"
    CONV4J_NO_AVX512=1 "$OUT/$name/conv4j_selftest" # the kernels other CPUs run
    CONV4J_NO_AVX512=1 CONV4J_NO_AVX2=1 "$OUT/$name/conv4j_selftest"
}

if [[ "$mode" == "--sanitize" ]]; then
    compile "$OUT/sanitize" $CFLAGS $SANITIZE
    selftest sanitize $CFLAGS $SANITIZE
    echo "self-test passed under AddressSanitizer and UndefinedBehaviorSanitizer"
    exit 0
fi

VEC=""
[[ "$mode" == "--vec" ]] && VEC="-fopt-info-vec-optimized"
compile "$OUT/obj" $CFLAGS $VEC
rm -f "$OUT/libconv4j.a"
ar rcs "$OUT/libconv4j.a" "$OUT"/obj/*.o
echo "built $OUT/libconv4j.a"
[[ "$mode" == "--lib" ]] && exit 0

# the kernels as a shared library, for working on them from other programs
gcc -shared -o "$OUT/libconv4j.so" "$OUT"/obj/*.o -L "$BLAS" -l:libopenblas.so.0 -static-libgcc \
    -Wl,-rpath,'$ORIGIN/openblas/org/bytedeco/openblas/'"$PLATFORM"
selftest obj $CFLAGS
echo "built $OUT/libconv4j.so"
