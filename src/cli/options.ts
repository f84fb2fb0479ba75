/** Parsers for option values: each names the option and the bad value. */
import { InvalidArgumentError } from 'commander';

export function positiveInteger(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}, not "${value}"`);
    }
    return Number(value);
  };
}

export function positiveSeconds(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0)) throw new InvalidArgumentError(`${name} must be a number of seconds above 0, not "${value}"`);
    return n;
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** "-x 12,34 -x 56": PIDs, each a positive whole number, in the order given, once each. */
export function pidList(value: string, previous: number[] = []): number[] {
  const pids = [...previous];
  for (const part of value.split(',')) {
    const text = part.trim();
    if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
      throw new InvalidArgumentError(`--pid must be a whole number above 0, or several separated by commas, not "${value}"`);
    }
    if (!pids.includes(Number(text))) pids.push(Number(text));
  }
  return pids;
}

export function nonNegativeInteger(name: string, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) > max) throw new InvalidArgumentError(`${name} must be a whole number from 0 to ${max}, not "${value}"`);
    return Number(value);
  };
}
