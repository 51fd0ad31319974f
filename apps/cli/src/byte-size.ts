const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
/** Binary units: the sizes people compare against are file sizes and memory. */
const UNIT_STEP = 1024;

/** A byte count for people: `843 B`, `12.5 KiB`, `10.4 MiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= UNIT_STEP && unit < UNITS.length - 1) {
    value /= UNIT_STEP;
    unit++;
  }
  return unit === 0 ? `${value} ${UNITS[0]}` : `${value.toFixed(1)} ${UNITS[unit]}`;
}
