/**
 * pprof's profile.proto, gzipped: read by `go tool pprof`, Grafana Pyroscope
 * (which ingests it as is), Parca and the pprof web UI. Two sample types,
 * samples/count and cpu/nanoseconds (count * period), the way Go's own CPU
 * profiles look, so tools that expect a CPU profile find one.
 *
 * Frames become Function (name, file) + Location (+ line): Python frames keep
 * their file and running line (Line.line), so `pprof -lines` and Pyroscope's
 * source view see them; native frames get a Mapping per module file and kernel
 * frames a "[kernel.kallsyms]" mapping, so tools can group or filter by binary.
 * The target's program is the first mapping (pprof's main binary), and a
 * mapping has the range the file's code was mapped at, when known.
 * Everything is already symbolized (has_functions), so pprof never tries to
 * symbolize the addresses itself: there are none (address 0; a location
 * stands for every address of its function).
 */
import { gzipSync } from 'node:zlib';
import { Function as PprofFunction, Line, Location, Mapping, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import type { Frame } from '../symbolize/frame.js';
import type { OutputProfile } from './output-profile.js';

/** perf's name for the kernel image: pprof treats names in brackets as not symbolizable. */
export const PPROF_KERNEL_MAPPING = '[kernel.kallsyms]';

export function formatPprof(profile: OutputProfile): Uint8Array {
  const strings = new StringTable();
  const functions: PprofFunction[] = [];
  const locations: Location[] = [];
  const mappings: Mapping[] = [];
  const functionIds = new Map<string, number>();
  const locationIds = new Map<string, number>();
  const mappingIds = new Map<string, number>();
  const byObject = new Map<Frame, number>();

  const ranges = new Map((profile.binaries ?? []).map((b) => [b.file, b]));
  const mappingOf = (file: string): number => {
    let id = mappingIds.get(file);
    if (id === undefined) {
      id = mappings.length + 1;
      const range = ranges.get(file);
      const where = range ? { memoryStart: range.start, memoryLimit: range.limit, fileOffset: range.offset } : {};
      mappings.push(new Mapping({ id, filename: strings.dedup(file), hasFunctions: true, ...where }));
      mappingIds.set(file, id);
    }
    return id;
  };
  // The main binary first: pprof takes the first mapping for it.
  const main = profile.binaries?.[0];
  if (main) mappingOf(main.file);
  const mappingFor = (frame: Frame): number => {
    const file = frame.kind === 'kernel' ? PPROF_KERNEL_MAPPING : frame.kind === 'native' ? frame.file : undefined;
    // Python frames and markers belong to no binary: mapping_id 0 means "not applicable".
    if (file === undefined || file === '') return 0;
    return mappingOf(file);
  };

  const functionFor = (frame: Frame): number => {
    // Python: the qualname, with its source file; the line goes on the Line, as
    // a function runs many lines. Others: the symbol (native source files are unknown).
    const name = frame.kind === 'python' ? (frame.func ?? frame.name) : frame.name;
    const filename = frame.kind === 'python' ? (frame.file ?? '') : '';
    // start_line: the def's line is not known, so 0 ("unknown") for every function.
    const key = JSON.stringify([name, filename]);
    let id = functionIds.get(key);
    if (id === undefined) {
      id = functions.length + 1;
      const nameIndex = strings.dedup(name);
      functions.push(new PprofFunction({ id, name: nameIndex, systemName: nameIndex, filename: strings.dedup(filename), startLine: 0 }));
      functionIds.set(key, id);
    }
    return id;
  };

  const locationFor = (frame: Frame): number => {
    let id = byObject.get(frame);
    if (id !== undefined) return id;
    const mappingId = mappingFor(frame);
    const functionId = functionFor(frame);
    const line = frame.kind === 'python' ? (frame.line ?? 0) : 0;
    const key = `${mappingId}:${functionId}:${line}`;
    id = locationIds.get(key);
    if (id === undefined) {
      id = locations.length + 1;
      locations.push(new Location({ id, mappingId, address: 0, line: [new Line({ functionId, line })] }));
      locationIds.set(key, id);
    }
    byObject.set(frame, id);
    return id;
  };

  // pprof's period is an integer: at 99 Hz a sample stands for 10101010 ns (rounded).
  const period = Math.round(1e9 / profile.hz);
  const samples: Sample[] = [];
  for (const stack of profile.stacks) {
    if (stack.frames.length === 0 || stack.count <= 0) continue;
    // pprof lists a sample's locations leaf first; ours are root first.
    const locationId: number[] = [];
    for (let i = stack.frames.length - 1; i >= 0; i--) locationId.push(locationFor(stack.frames[i]!));
    samples.push(new Sample({ locationId, value: [stack.count, stack.count * period] }));
  }

  const valueType = (type: string, unit: string) => new ValueType({ type: strings.dedup(type), unit: strings.dedup(unit) });
  // Pyroscope and pprof tell CPU profiles from wall-clock ones by this name.
  const time = profile.time ?? 'cpu';
  const sampleType = [valueType('samples', 'count'), valueType(time, 'nanoseconds')];
  const periodType = valueType(time, 'nanoseconds');
  const comment = [strings.dedup(profile.title)];
  const encoded = new Profile({
    sampleType,
    sample: samples,
    mapping: mappings,
    location: locations,
    function: functions,
    stringTable: strings,
    periodType,
    period,
    comment,
    // Epoch nanoseconds pass 2^53: a bigint keeps them exact.
    timeNanos: profile.startTime === null ? 0 : BigInt(Math.round(profile.startTime)) * 1_000_000n,
    durationNanos: profile.durationSeconds === null ? 0 : Math.round(profile.durationSeconds * 1e9),
  }).encode();
  return gzipSync(encoded);
}
