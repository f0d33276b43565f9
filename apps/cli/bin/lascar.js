#!/usr/bin/env node
// Stable entry for `npx lascar`: npm links bins at install time, before `npm run build` has
// produced dist/, so the link points here and this file loads the compiled CLI.
import '../dist/bin.js';
