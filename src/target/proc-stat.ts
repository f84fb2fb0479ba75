/** /proc/PID/stat and /proc/PID/task/TID/stat, split into comm and the fields after it. */
export interface StatFields {
  readonly comm: string;
  /** The fields after comm: [0] is state (field 3 of proc(5)), so field N is at N - 3. */
  readonly fields: readonly string[];
}

/** comm sits inside the first "(" and the last ")", and may itself hold spaces and parentheses. */
export function splitStat(text: string): StatFields | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  return { comm: text.slice(open + 1, close), fields: text.slice(close + 2).split(' ') };
}
