#!/usr/bin/env bash
# Builds conv4j's native kernels (native/) standalone with gcc, against the OpenBLAS of the
# org.bytedeco:openblas preset that the Maven build uses, and runs their self-test.
#
#   bash cppbuild.sh            build target/native/libconv4j.so and run the self-test
#   bash cppbuild.sh --vec      also print gcc's vectorization report for the kernels
#
# The JNI library that the jar ships is built by `mvn package` (JavaCPP compiles the same headers);
# this script is for working on the kernels without the JVM. Flags are baseline x86-64: what ships
# must run on any x86-64 CPU, so no -march=native.
set -euo pipefail
cd "$(dirname "$0")"

OPENBLAS_VERSION=0.3.31-1.5.13
PLATFORM=linux-x86_64
JAR="$HOME/.m2/repository/org/bytedeco/openblas/$OPENBLAS_VERSION/openblas-$OPENBLAS_VERSION-$PLATFORM.jar"
OUT=target/native
CFLAGS="-O3 -march=x86-64 -m64 -fPIC -Wall -Wextra -Wno-unused-parameter -std=gnu11"

if [[ ! -f "$JAR" ]]; then
    mvn -q -B dependency:get -Dartifact="org.bytedeco:openblas:$OPENBLAS_VERSION:jar:$PLATFORM" -Dtransitive=false
fi
mkdir -p "$OUT/openblas"
unzip -q -o "$JAR" "org/bytedeco/openblas/$PLATFORM/include/*" "org/bytedeco/openblas/$PLATFORM/libopenblas.so.0" \
    "org/bytedeco/openblas/$PLATFORM/libgfortran.so.5" "org/bytedeco/openblas/$PLATFORM/libquadmath.so.0" -d "$OUT/openblas"
BLAS="$OUT/openblas/org/bytedeco/openblas/$PLATFORM"

VEC=""
if [[ "${1:-}" == "--vec" ]]; then
    VEC="-fopt-info-vec-optimized"
fi

# a shared library exporting the kernels (they are static inline in the headers)
printf '#include "conv4j_kernels.h"\n' > "$OUT/conv4j_lib.c"
sed -n 's/^static \(inline \)\{0,1\}[a-z ]*[ *]\(conv4j_[a-z0-9_]*\)(.*/\2/p' native/*.h | sort -u | while read -r f; do
    printf 'void *conv4j_export_%s = (void *)&%s;\n' "$f" "$f"
done >> "$OUT/conv4j_lib.c"
gcc $CFLAGS $VEC -I native -I "$BLAS/include" -shared -o "$OUT/libconv4j.so" "$OUT/conv4j_lib.c" \
    -L "$BLAS" -l:libopenblas.so.0 -Wl,-rpath,'$ORIGIN/openblas/org/bytedeco/openblas/'"$PLATFORM"

gcc $CFLAGS -I native -I "$BLAS/include" -o "$OUT/conv4j_selftest" native/conv4j_selftest.c \
    -L "$BLAS" -l:libopenblas.so.0 -lm -Wl,-rpath,"$(pwd)/$BLAS"
"$OUT/conv4j_selftest"
CONV4J_NO_AVX512=1 "$OUT/conv4j_selftest"   # the kernels other CPUs run
echo "built $OUT/libconv4j.so"
