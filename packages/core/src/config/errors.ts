/** A config file that cannot be read or does not validate: one line per problem. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The config file (as given). */
  readonly file: string;
  /** One message per problem, each `<file>: <path>: <what is wrong>`. */
  readonly issues: string[];
  constructor(file: string, issues: string[], options?: { cause?: unknown }) {
    super(issues.join('\n'), options?.cause === undefined ? undefined : { cause: options.cause });
    this.file = file;
    this.issues = issues;
  }
}

export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError || (err instanceof Error && err.name === 'ConfigError' && Array.isArray((err as { issues?: unknown }).issues));
}
