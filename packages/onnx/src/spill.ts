// A scratch file for tensors a program has made but will not need again until it writes the
// model: moving their bytes out of memory as they are made keeps a model much larger than memory
// workable. A spilled tensor becomes an ordinary external-data reference (to the scratch file),
// so everything that reads tensors reads it back the usual way, one tensor at a time.
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { QgrainError } from '@qgrain/tensor';
import type { ExternalDataReader } from './external-data.js';
import type { TensorProto } from './proto-types.js';
import { EXTERNAL_DATA_ALIGNMENT, type ExternalDataInfo, pointToExternalData } from './tensor-proto.js';

/** One positioned read or write stays well below Node's 2 GiB per-call limit. */
const MAX_IO_CHUNK = 1 << 30;

/**
 * A scratch file of tensor bytes in `dir`, removed by `remove()` (on systems that allow it, it has
 * no name in `dir` even while in use, so an interrupted run leaves nothing behind). `spill` appends a tensor's bytes
 * and turns its TensorProto into a reference to them; `over(reader)` gives the ExternalDataReader
 * that reads those references here and every other location through `reader`. Build the model
 * that owns the tensors with that reader (`new Model(proto, { externalData })`), so that writing
 * it (`writeModel`) reads spilled tensors back one at a time.
 */
export class ExternalDataSpill {
  /** The scratch file's path. */
  readonly path: string;
  /** The location spilled tensors name: the scratch file's name, unique in its folder. */
  readonly location: string;
  private fd: number | undefined;
  private end = 0;
  /** True once the file has no name left: the open descriptor keeps it until it is closed. */
  private unlinked = false;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.location = basename(path);
    this.fd = fd;
    // Where the system allows it (not Windows), the file loses its name at once and lives only
    // through the descriptor: whatever ends the process, even a kill, leaves nothing behind.
    try {
      unlinkSync(path);
      this.unlinked = true;
    } catch {
      // Removed by `remove()` instead.
    }
  }

  /**
   * Creates a new scratch file in `dir` (the folder a model will be written to: the same disk,
   * and never the input's folder unless the output goes there). `name` is part of its file name.
   */
  static create(dir: string, name: string): ExternalDataSpill {
    const path = join(resolve(dir), `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.spill`);
    try {
      return new ExternalDataSpill(path, openSync(path, 'wx+'));
    } catch (error) {
      throw new QgrainError(
        'io',
        `cannot create scratch file ${path}: ${(error as Error).message}; check that the folder exists and is writable`,
        { cause: error, file: path },
      );
    }
  }

  /** Bytes spilled so far, alignment included. */
  get bytes(): number {
    return this.end;
  }

  /**
   * Writes `bytes` (the tensor's data in raw_data layout) to the scratch file and makes `tensor`
   * an external reference to them; its in-memory data is dropped.
   */
  spill(tensor: TensorProto, bytes: Uint8Array): void {
    const fd = this.open();
    const offset = Math.ceil(this.end / EXTERNAL_DATA_ALIGNMENT) * EXTERNAL_DATA_ALIGNMENT;
    let done = 0;
    while (done < bytes.byteLength) {
      const n = Math.min(MAX_IO_CHUNK, bytes.byteLength - done);
      done += writeSync(fd, bytes, done, n, offset + done);
    }
    this.end = offset + bytes.byteLength;
    pointToExternalData(tensor, this.location, offset, bytes.byteLength);
  }

  /** A reader for spilled tensors that hands every other location to `base`. */
  over(base: ExternalDataReader | undefined): ExternalDataReader {
    const missing = (name: string): QgrainError =>
      new QgrainError(
        'io',
        `tensor '${name}' is stored in external data, but there is no way to read it; read the model with readModel(path)`,
        { tensor: name },
      );
    return {
      check: (info, name) => {
        if (info.location === this.location) return;
        if (!base) throw missing(name);
        base.check(info, name);
      },
      read: (info, name) => {
        if (info.location === this.location) return this.read(info, name);
        if (!base) throw missing(name);
        return base.read(info, name);
      },
    };
  }

  /** Closes and deletes the scratch file; spilled tensors can no longer be read. */
  remove(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (!this.unlinked) rmSync(this.path, { force: true });
  }

  private open(): number {
    if (this.fd === undefined) {
      throw new QgrainError('internal', `scratch file ${this.path} was already removed`, { file: this.path });
    }
    return this.fd;
  }

  private read(info: ExternalDataInfo, name: string): Uint8Array {
    const fd = this.open();
    const length = info.length ?? fstatSync(fd).size - info.offset;
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, Math.min(MAX_IO_CHUNK, length - done), info.offset + done);
      if (n === 0) {
        throw new QgrainError('io', `unexpected end of scratch file ${this.path} reading tensor '${name}'`, {
          file: this.path,
          tensor: name,
        });
      }
      done += n;
    }
    return out;
  }
}
