// The limits of issue 17, shared by the driver and its children: an input is slow past 2 s of
// processor time, and heavy past 64 MiB plus four times its size (room for the file, its decoded
// form, one converted copy of the weights and the output).

export const MIB = 1024 * 1024;
export const SLOW_MS = 2000;
export const MEMORY_BASE = 64 * MIB;
export const MEMORY_PER_INPUT_BYTE = 4;

/** The resident-set growth an input of `bytes` bytes may cause. */
export function memoryLimit(bytes: number): number {
  return MEMORY_BASE + MEMORY_PER_INPUT_BYTE * bytes;
}
