// A tiny SentencePiece BPE ModelProto written byte by byte, so the tokenizer.model route
// (protobuf reader, converter, loader) is tested without ../shared.

function varint(n: number): number[] {
  const out: number[] = [];
  // int32 negatives are sign-extended to 64 bits: ten bytes on the wire.
  let big = BigInt.asUintN(64, BigInt(n));
  do {
    let b = Number(big & 0x7fn);
    big >>= 7n;
    if (big !== 0n) b |= 0x80;
    out.push(b);
  } while (big !== 0n);
  return out;
}
const key = (field: number, wire: number) => varint(field * 8 + wire);
const len = (field: number, payload: number[]) => [...key(field, 2), ...varint(payload.length), ...payload];
const vint = (field: number, v: number) => [...key(field, 0), ...varint(v)];
const f32 = (field: number, v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return [...key(field, 5), ...b];
};
const str = (s: string) => [...new TextEncoder().encode(s)];

export interface TinyPiece {
  piece: string;
  score: number;
  type?: number;
}

/** Control/unknown/byte pieces first (ids 0..258), then the given normal pieces from id 259. */
export function tinyPieces(normal: [string, number][]): TinyPiece[] {
  const pieces: TinyPiece[] = [
    { piece: '<unk>', score: 0, type: 2 },
    { piece: '<s>', score: 0, type: 3 },
    { piece: '</s>', score: 0, type: 3 },
  ];
  for (let b = 0; b < 256; b++) pieces.push({ piece: `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, score: 0, type: 6 });
  for (const [piece, score] of normal) pieces.push({ piece, score });
  return pieces;
}

export function encodeModelProto(
  pieces: TinyPiece[],
  o: { modelType: number; byteFallback: boolean; addDummyPrefix: boolean; removeExtraWhitespaces: boolean; padId?: number; unknownField?: boolean },
): Uint8Array {
  const bytes: number[] = [];
  for (const p of pieces) {
    const body = [...len(1, str(p.piece)), ...f32(2, p.score)];
    if (p.type !== undefined && p.type !== 1) body.push(...vint(3, p.type));
    bytes.push(...len(1, body));
  }
  const trainer = [...vint(3, o.modelType), ...vint(4, pieces.length), ...vint(35, o.byteFallback ? 1 : 0), ...vint(40, 0), ...vint(41, 1), ...vint(42, 2), ...vint(43, o.padId ?? -1)];
  if (o.unknownField) trainer.push(...len(1, str('corpus.txt')), ...key(7, 1), 1, 2, 3, 4, 5, 6, 7, 8);
  bytes.push(...len(2, trainer));
  bytes.push(...len(3, [...len(1, str('identity')), ...vint(3, o.addDummyPrefix ? 1 : 0), ...vint(4, o.removeExtraWhitespaces ? 1 : 0)]));
  return Uint8Array.from(bytes);
}

/**
 * Pieces whose id order differs from their score order ("el" is listed before "ll" but
 * scores lower), so only score-ordered merging gives the expected segmentation:
 * "hello world" -> ▁hello ▁wor ld.
 */
export const TINY_NORMAL: [string, number][] = [
  ['▁', -100], ['h', -100], ['e', -100], ['l', -100], ['o', -100], ['w', -100], ['r', -100], ['d', -100],
  ['el', -1.5], ['ll', -1], ['he', -2], ['▁he', -3], ['llo', -4], ['▁hello', -5], ['▁w', -6], ['or', -7], ['ld', -8], ['▁wor', -9],
];
export const TINY_IDS = Object.fromEntries(TINY_NORMAL.map(([p], i) => [p, 259 + i]));
