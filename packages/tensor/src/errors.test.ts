import { describe, expect, it } from 'vitest';
import { QgrainError } from './errors.js';

describe('QgrainError', () => {
  it('carries the file, node, tensor and value it was given as typed fields', () => {
    const error = new QgrainError('invalid-model', 'bad dims', {
      file: 'model.onnx',
      node: 'conv1',
      tensor: 'conv1.weight',
      value: [-1, 3],
    });
    expect(error.code).toBe('invalid-model');
    expect(error.file).toBe('model.onnx');
    expect(error.node).toBe('conv1');
    expect(error.tensor).toBe('conv1.weight');
    expect(error.value).toEqual([-1, 3]);
    expect(QgrainError.isInstance(error)).toBe(true);
    expect(QgrainError.isInstance(new Error('plain'))).toBe(false);
  });

  it('leaves unknown context undefined and keeps the cause', () => {
    const cause = new Error('root');
    const error = new QgrainError('io', 'cannot read', { cause });
    expect(error.file).toBeUndefined();
    expect(error.tensor).toBeUndefined();
    expect(error.cause).toBe(cause);
    expect(Object.keys(error)).not.toContain('file');
  });

  it('withContext fills only what is missing', () => {
    const inner = new QgrainError('shape-mismatch', 'too short', { tensor: 'w', cause: 'x' });
    const outer = QgrainError.withContext(inner, { file: 'a.onnx', tensor: 'other' });
    expect(outer.file).toBe('a.onnx');
    expect(outer.tensor).toBe('w');
    expect(outer.code).toBe('shape-mismatch');
    expect(outer.message).toBe('too short');
    expect(outer.cause).toBe('x');
  });
});
