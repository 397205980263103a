/** Log lines go to stderr (stdout may be a data channel in pipe mode), one line each, timestamped. */
export type LogLevel = 'error' | 'info' | 'debug';
const rank: Record<LogLevel, number> = { error: 0, info: 1, debug: 2 };

export class Logger {
  constructor(
    private readonly level: LogLevel = 'info',
    private readonly out: NodeJS.WritableStream = process.stderr,
  ) {}

  private line(level: LogLevel, message: string): void {
    if (rank[level] <= rank[this.level]) this.out.write(`${new Date().toISOString()} ${level} ${message}\n`);
  }
  error(message: string): void {
    this.line('error', message);
  }
  info(message: string): void {
    this.line('info', message);
  }
  debug(message: string): void {
    this.line('debug', message);
  }
}
