/**
 * IEEE float16 and bfloat16 ↔ float32 (pathlens computes in float32: low-precision tensors are
 * widened when read; see autodiff/precision.ts).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 value of one float16 bit pattern (subnormals, infinities and NaN included). */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** float16 bit patterns → float32 values. */
export function float16ToFloat32(bits: ArrayLike<number>): Float32Array {
  return Float32Array.from(bits, float16ToNumber);
}

/** bfloat16 bit patterns (the upper half of a float32) → float32 values. */
export function bfloat16ToFloat32(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    u32[0] = (bits[i]! & 0xffff) << 16;
    out[i] = f32[0]!;
  }
  return out;
}

/** The float16 bit pattern nearest to `v` (round to nearest even; overflow to infinity). */
export function numberToFloat16(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let m = mantissa >> 13;
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}
