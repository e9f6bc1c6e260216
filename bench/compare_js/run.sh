#!/usr/bin/env bash
# Side-by-side speed comparison in ONE run, on the same decoded images:
#   livegate (our C++ pipeline)  vs  @vladmandic/face-api@1.7.15  vs  @vladmandic/human@3.3.6
# (both JS libraries under node with @tensorflow/tfjs-backend-wasm@4.22.0).
# Images: dlib's example faces (/usr/share/doc/libdlib19.1/examples/faces/*.jpg)
# and one 640x480 frame with one face: the first frame of the real webcam clip
# 3_presentation_attack/zubaircrackscode/zubair_real.webm, centre 4:3 crop,
# resized (the same frame bench/vision uses).
# compare_js_livegate decodes every image once (OpenCV, EXIF honoured) and
# dumps raw RGB; the node runners read those bytes, so JPEG decoding is
# timed nowhere. Everything runs single-threaded (cv::setNumThreads(1), one
# wasm thread), one library at a time, one after another.
#
# Usage: bench/compare_js/run.sh [--json] [--seconds S] [--detector D] [--install]
#   --detector       livegate's BlazeFace choice: front_then_back (default),
#                    back_only (the engine before the front model), front_only
#   LIVEGATE_BUILD   build folder holding bench/compare_js/compare_js_livegate
#                    (default: <repo>/build)
#   LIVEGATE_TEST_DATA  shared data (default: <repo>/../shared/data)
#   --install        npm-install the pinned packages into <repo>/.cache/bench-node first
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="${LIVEGATE_BUILD:-$repo/build}"
data="${LIVEGATE_TEST_DATA:-$repo/../shared/data}"
node_dir="$repo/.cache/bench-node"
json=0
seconds=10
install=0
detector=front_then_back
while [[ $# -gt 0 ]]; do
  case "$1" in
    --json) json=1 ;;
    --seconds) seconds="$2"; shift ;;
    --detector) detector="$2"; shift ;;
    --install) install=1 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

# Exact pins; one `npm install` per package (a combined install timed out here once).
packages=(@tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0
          @vladmandic/face-api@1.7.15 @vladmandic/human@3.3.6)
if [[ $install == 1 ]]; then
  mkdir -p "$node_dir"
  [[ -f "$node_dir/package.json" ]] || echo '{"name":"livegate-bench-compare-js","private":true}' > "$node_dir/package.json"
  for p in "${packages[@]}"; do
    (cd "$node_dir" && npm install --save-exact --no-audit --no-fund "$p" >&2)
  done
fi
for p in "${packages[@]}"; do
  name="${p%@*}"; version="${p##*@}"
  pj="$node_dir/node_modules/$name/package.json"
  if [[ ! -f "$pj" ]]; then
    echo "missing $p in $node_dir (run: $0 --install)" >&2; exit 4
  fi
  got="$(node -p "require('$pj').version")"
  if [[ "$got" != "$version" ]]; then
    echo "$name is $got, expected $version (run: $0 --install)" >&2; exit 4
  fi
done

bin="$build/bench/compare_js/compare_js_livegate"
if [[ ! -x "$bin" ]]; then
  echo "missing $bin (build target compare_js_livegate; set LIVEGATE_BUILD)" >&2; exit 4
fi
video="$data/3_presentation_attack/zubaircrackscode/zubair_real.webm"
if [[ ! -f "$video" ]]; then
  echo "missing $video (set LIVEGATE_TEST_DATA)" >&2; exit 4
fi
shopt -s nullglob
images=(/usr/share/doc/libdlib19.1/examples/faces/*.jpg)
if [[ ${#images[@]} -eq 0 ]]; then
  echo "missing dlib example faces (apt install libdlib19.1 docs)" >&2; exit 4
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "livegate ..." >&2
"$bin" --json --dump "$work/frames" --seconds "$seconds" --detector "$detector" --frame-video "$video" --frame-index 0 \
  "${images[@]}" > "$work/livegate.json"
for lib in face-api human; do
  echo "$lib ..." >&2
  node "$here/bench_js.mjs" --lib "$lib" --frames "$work/frames" --modules "$node_dir/node_modules" \
    --seconds "$seconds" > "$work/$lib.json"
done
args=("$work/livegate.json" "$work/face-api.json" "$work/human.json")
[[ $json == 1 ]] && args+=(--json)
node "$here/compare.mjs" "${args[@]}"
