#!/usr/bin/env node
import { main } from './program.js';

// Setting exitCode (not calling process.exit) lets stdout drain when it is a pipe.
process.exitCode = await main(process.argv.slice(2));
