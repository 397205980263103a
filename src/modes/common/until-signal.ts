/** The command's life after start-up: wait for SIGINT or SIGTERM, shut down, give the exit status. */
import type { Logger } from './log.js';
import { UsageError } from './usage-error.js';

/**
 * Resolves with 0 once `shutdown` finishes after SIGINT or SIGTERM (1 if it fails), or with 130 on a
 * second signal during shutdown. `what` names what is being shut down, for the log line.
 */
export function untilSignal(log: Logger, what: () => string, shutdown: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      process.once(signal, () => resolve(130)); // before the log line: a second signal sent on seeing it must not kill us
      log.info(`${signal}: shutting down (${what()})`);
      shutdown().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

/** "1 connection", "3 programs": a count with its noun. */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * Every mode's life: start, then run until a signal. A start-up failure is one line on stderr and status
 * 2 for a usage error (a bad flag, file or address), 1 for anything else.
 */
export async function serveUntilSignal<R>(
  log: Logger,
  start: () => Promise<R>,
  what: (running: R) => string,
  shutdown: (running: R) => Promise<void>,
  isUsageError: (error: unknown) => boolean = (error) => error instanceof UsageError,
): Promise<number> {
  let running: R;
  try {
    running = await start();
  } catch (error) {
    process.stderr.write(`wsbridge: ${(error as Error).message}\n`);
    return isUsageError(error) ? 2 : 1;
  }
  return untilSignal(
    log,
    () => what(running),
    () => shutdown(running),
  );
}
