#!/usr/bin/env node
// The CLI is compiled TypeScript; run `npm run build` first.
import '../dist/src/cli/main.js';
