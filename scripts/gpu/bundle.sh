#!/usr/bin/env bash
# Packs the `lascar` CLI for a GPU host that has no Node.js: one esbuild bundle (onnxruntime-node
# stays a real package, its native library beside it) plus node, via ../shared/gpu/pack.sh.
# Usage, from the repository root after `npm ci && npm run build`:  bash scripts/gpu/bundle.sh [.gpu]
set -euo pipefail
dest=${1:-.gpu}
mkdir -p /tmp/lascar-bundle
npx esbuild apps/cli/dist/bin.js --bundle --platform=node --format=esm --target=node20 \
  --external:onnxruntime-node --outfile=/tmp/lascar-bundle/lascar.mjs --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'module'; import { fileURLToPath as __fu } from 'url'; import { dirname as __dn } from 'path'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);"
bash ../shared/gpu/pack.sh "$dest" /tmp/lascar-bundle/lascar.mjs
