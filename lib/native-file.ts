// Is the addon's file whole? The dynamic loader maps an ELF shared object by
// the sizes its headers state, so a file cut short (an install or a copy that
// stopped half-way) is mapped past its end, and the first touch of a missing
// page kills the process with SIGBUS — no exception reaches JavaScript.
// Checking the headers against the file's size first turns that into an error
// the caller can catch. Layout: the System V ABI's ELF header and program
// header table (ELF-64 Object File Format 1.5, and the 32-bit gABI), in the
// byte order e_ident[EI_DATA] names. Other formats (Mach-O, PE) are left to
// their loaders: they return an error for a short file instead of faulting.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const PT_LOAD = 1;

/**
 * Why the ELF file at `file` cannot be mapped whole — a table or a loadable
 * segment that ends past the end of the file — or null when it can (or when
 * it is no ELF file: not this check's business).
 */
export function elfTruncation(file: string): string | null {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const read = (offset: number, length: number): Buffer | null => {
      if (offset + length > size) return null;
      const buf = Buffer.alloc(length);
      return readSync(fd, buf, 0, length, offset) === length ? buf : null;
    };
    const ident = read(0, 16);
    if (ident === null || ident.readUInt32BE(0) !== 0x7f454c46) return null;  // "\x7fELF"
    const is64 = ident[4] === 2;
    const little = ident[5] === 1;
    const header = read(0, is64 ? 64 : 52);
    const short = (what: string, end: number) =>
      `${file} is cut short: its ${what} ends at byte ${end} but the file has ${size} bytes ` +
      '(an install or copy that did not finish); reinstall or rebuild it';
    if (header === null) return short('ELF header', is64 ? 64 : 52);
    const u16 = (b: Buffer, at: number) => (little ? b.readUInt16LE(at) : b.readUInt16BE(at));
    const u32 = (b: Buffer, at: number) => (little ? b.readUInt32LE(at) : b.readUInt32BE(at));
    const word = (b: Buffer, at: number) => (is64 ? Number(little ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at)) : u32(b, at));
    const phoff = word(header, is64 ? 0x20 : 0x1c);
    const shoff = word(header, is64 ? 0x28 : 0x20);
    const phentsize = u16(header, is64 ? 0x36 : 0x2a);
    const phnum = u16(header, is64 ? 0x38 : 0x2c);
    const shentsize = u16(header, is64 ? 0x3a : 0x2e);
    const shnum = u16(header, is64 ? 0x3c : 0x30);
    if (shoff + shnum * shentsize > size) return short('section header table', shoff + shnum * shentsize);
    const table = read(phoff, phnum * phentsize);
    if (table === null) return short('program header table', phoff + phnum * phentsize);
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      if (u32(table, at) !== PT_LOAD) continue;
      // p_offset and p_filesz: Elf64_Phdr after p_type, p_flags; Elf32_Phdr after p_type.
      const offset = word(table, at + (is64 ? 8 : 4));
      const filesz = word(table, at + (is64 ? 32 : 16));
      if (offset + filesz > size) return short(`loadable segment ${i}`, offset + filesz);
    }
    return null;
  } finally {
    closeSync(fd);
  }
}
