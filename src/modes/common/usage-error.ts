/** A bad flag or value: the CLI prints its message on one line and exits with status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
