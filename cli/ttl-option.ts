import { InvalidArgumentError } from 'commander';

// The subset of jose's duration syntax a lifetime needs: jose also accepts "ago" and signs, which mean the past.
const lifetimePattern =
  /^(\d+(?:\.\d+)?) ?(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?|y|yrs?|years?)$/i;

/** Parses `--ttl`: a lifetime above zero, such as 15m, 1h or 7d. Zero, negative or unparseable values are refused. */
export function ttlOption(value: string): string {
  const match = lifetimePattern.exec(value.trim());
  if (!match || Number(match[1]) <= 0) {
    throw new InvalidArgumentError(
      'the lifetime must be above zero, with a unit, such as 90s, 15m, 1h or 7d.',
    );
  }
  return value.trim();
}
