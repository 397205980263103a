#!/usr/bin/env node
/** The `wsbridge` command: reads argv, picks a mode, runs it, exits with its status. */
import './malloc-policy.js';
import { runConfigMode } from '../config/config-mode.js';
import { runPipeMode } from '../modes/pipe/pipe-mode.js';
import { runProgramMode } from '../modes/program/program-mode.js';
import { runSocketMode } from '../modes/socket/socket-mode.js';
import { helpTopic } from './help.js';
import { pickMode } from './pick-mode.js';

const RUN = { config: runConfigMode, socket: runSocketMode, program: runProgramMode, pipe: runPipeMode };

const argv = process.argv.slice(2);
const help = helpTopic(argv);
if (help !== undefined) process.stdout.write(`${help}\n`);
else
  RUN[pickMode(argv)](argv).then((code) => {
    process.exitCode = code;
    // Whatever still holds the loop (a peer that never finished closing) must not keep the process alive.
    setTimeout(() => process.exit(code), 1000).unref();
  });
