// Tensors as the chain takes and gives them (`Tensor`: dtype, shape, little-endian bytes),
// to and from plain values by their dtype: f32 as numbers, i64 as bigints (exact beyond 2^53),
// i32, i8 and u8 as numbers, bool as booleans.
import { hexToU8a, u8aToHex } from '@polkadot/util';

/** The chain's dtypes, as `@polkadot/api` names them. */
export type DType = 'F32' | 'I64' | 'I32' | 'I8' | 'U8' | 'Bool';

/** A tensor as the chain takes it (hex bytes) and as `@polkadot/api` gives it back in JSON. */
export interface Tensor { dtype: DType; shape: number[]; data: string }

/** A tensor's elements as values of its dtype. */
export type Values = number[] | bigint[] | boolean[];

const DTYPES: Record<string, DType> = {
  f32: 'F32', i64: 'I64', i32: 'I32', i8: 'I8', u8: 'U8', bool: 'Bool',
};

/** The chain's dtype for a name as `veriml-node infer` files write it (`f32`, `i64`, …) or as the chain does. */
export function dtypeOf(name: string): DType {
  const dtype = DTYPES[name.toLowerCase()];
  if (!dtype) throw new Error(`unknown dtype ${name}: one of ${Object.keys(DTYPES).join(', ')}`);
  return dtype;
}

/**
 * An f32 value as `veriml-node infer` files write it: a number, or one of the strings "NaN",
 * "inf" and "-inf" (JSON has no NaN or infinities).
 */
function floatOf(value: number | bigint | boolean | string): number {
  if (typeof value !== 'string') return Number(value);
  const special: Record<string, number> = { NaN: Number.NaN, inf: Infinity, '-inf': -Infinity };
  if (value in special) return special[value];
  const number = Number(value);
  if (value.trim() === '' || Number.isNaN(number)) throw new Error(`${JSON.stringify(value)} is not a number, "NaN", "inf" or "-inf"`);
  return number;
}

/**
 * `values` (row-major) as a tensor of `dtype` and `shape`; i64 values may be strings of digits,
 * f32 values the strings "NaN", "inf" and "-inf".
 */
export function encodeTensor(dtype: DType, shape: number[], values: (number | bigint | boolean | string)[]): Tensor {
  const count = shape.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new Error(`${values.length} values for shape [${shape.join(', ')}] (${count})`);
  const bytes = (() => {
    switch (dtype) {
      case 'F32': return new Uint8Array(new Float32Array(values.map(floatOf)).buffer);
      case 'I64': return new Uint8Array(new BigInt64Array(values.map((v) => BigInt(v))).buffer);
      case 'I32': return new Uint8Array(new Int32Array(values.map(Number)).buffer);
      case 'I8': return new Uint8Array(new Int8Array(values.map(Number)).buffer);
      case 'U8': return new Uint8Array(values.map(Number));
      case 'Bool': return new Uint8Array(values.map((v) => (v ? 1 : 0)));
    }
  })();
  return { dtype, shape, data: u8aToHex(bytes) };
}

/** The elements of `tensor` as values of its dtype. */
export function decodeTensor(tensor: Tensor): Values {
  const bytes = hexToU8a(tensor.data).slice();
  switch (tensor.dtype) {
    case 'F32': return Array.from(new Float32Array(bytes.buffer));
    case 'I64': return Array.from(new BigInt64Array(bytes.buffer));
    case 'I32': return Array.from(new Int32Array(bytes.buffer));
    case 'I8': return Array.from(new Int8Array(bytes.buffer));
    case 'U8': return Array.from(bytes);
    case 'Bool': return Array.from(bytes, (b) => b !== 0);
  }
}

/** `dtype[shape] = [values]`, as the quick start prints an output. */
export function describe(tensor: Tensor): string {
  return `${tensor.dtype.toLowerCase()}[${tensor.shape.join(', ')}] = [${decodeTensor(tensor).join(', ')}]`;
}
