/** The named frames the resolver makes (the stage in this folder), the profile counts and every output shows. */

export type FrameKind = 'python' | 'native' | 'kernel' | 'marker';

export interface Frame {
  readonly kind: FrameKind;
  /** What viewers show: "qualname (file.py:LINE)" for Python, the symbol for native and kernel code. */
  readonly name: string;
  /** The function alone (Python's qualname) when name says more. */
  readonly func?: string;
  /** Python: the source file's full path; native: the module (executable or library). */
  readonly file?: string;
  /** Python: the line running. */
  readonly line?: number;
}
