/** The command's life after start-up: wait for SIGINT or SIGTERM, shut down, give the exit status. */
import type { Logger } from './log.js';

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
