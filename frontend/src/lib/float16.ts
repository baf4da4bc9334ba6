/** IEEE 754 half-precision bits (little-endian Uint16) -> Float32Array, for the
 * server's float16 embeddings. Handles subnormals, infinities and NaN. */

const table = new Float32Array(1 << 16);
for (let h = 0; h < 1 << 16; h++) {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  let value: number;
  if (exponent === 0) value = fraction * 2 ** -24;
  else if (exponent === 0x1f) value = fraction ? Number.NaN : Number.POSITIVE_INFINITY;
  else value = (1 + fraction / 1024) * 2 ** (exponent - 15);
  table[h] = sign * value;
}

export function float16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i] as number] as number;
  return out;
}
