#!/bin/sh
# Builds the console's third-party assets into ../static/vendor: installs the
# pinned npm packages (package-lock.json) and copies uPlot's minified browser
# build, its stylesheet and its licence. The output is committed, so that
# `go build` and `go run` need no Node.js; run this (or `make -C
# internal/console assets`) only to change the uPlot version.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts
out=../static/vendor
mkdir -p "$out"
cp node_modules/uplot/dist/uPlot.iife.min.js "$out/uPlot.iife.min.js"
cp node_modules/uplot/dist/uPlot.min.css "$out/uPlot.min.css"
cp node_modules/uplot/LICENSE "$out/uPlot.LICENSE"
version=$(node -p 'require("./node_modules/uplot/package.json").version')
printf 'uPlot %s (MIT), from the npm package uplot; built by internal/console/web/build.sh\n' "$version" >"$out/README"
echo "uPlot $version copied to $out"
