/** Where an ELF file's link-time addresses ended up in the target. */
import type { ElfInfo } from '../native.js';
import type { Mapping } from './maps.js';

/**
 * Load bias of a file from any of its mappings: the segment containing the
 * mapping's file offset says which link-time address that offset has.
 * ET_EXEC files are not relocated.
 */
export function loadBias(elf: ElfInfo, mappings: readonly Mapping[]): bigint | null {
  if (elf.type === 'exec') return 0n;
  for (const mapping of mappings) {
    for (const seg of elf.loadSegments) {
      const segStart = seg.offset & ~0xfffn;
      if (mapping.offset >= segStart && mapping.offset < seg.offset + seg.filesz) {
        return mapping.start - (seg.vaddr - seg.offset + mapping.offset);
      }
    }
  }
  return null;
}
