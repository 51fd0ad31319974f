#!/usr/bin/env node
import { isWeightWorker } from '@qgrain/pipeline';
import { main } from './program.js';

// The single-file CLI is also the script its weight workers run (see @qgrain/pipeline's weight
// pool): there it serves weight tasks, and the command line is the parent's to run.
// Setting exitCode (not calling process.exit) lets stdout drain when it is a pipe.
if (!isWeightWorker) process.exitCode = await main(process.argv.slice(2));
