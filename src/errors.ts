/**
 * Errors a user can cause or fix. Each carries a one-line message and a hint;
 * the CLI prints both and exits non-zero, never a stack trace.
 */
export type ErrorCode =
  | 'BAD_OPTION'
  | 'NO_SUCH_PROCESS'
  | 'NOT_PERMITTED'
  | 'BPFTRACE_MISSING'
  | 'BPFTRACE_TOO_OLD'
  | 'BPFTRACE_FAILED'
  | 'TRACEFS_MISSING'
  | 'SAMPLER_FAILED'
  | 'INTERRUPTED'
  | 'UNSUPPORTED_PYTHON'
  | 'NO_DEBUG_INFO'
  | 'ADDON_MISSING'
  | 'OUTPUT_FAILED'
  | 'BAD_INPUT'
  | 'INTERNAL';

export class MixprofError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MixprofError';
    this.code = code;
    this.hint = hint;
  }
}

export function isMixprofError(error: unknown): error is MixprofError {
  return error instanceof MixprofError;
}
