// Parses a SentencePiece `tokenizer.model` (a serialized ModelProto) into plain data.
// Field numbers follow sentencepiece_model.proto; only what tokenization needs is kept.
import { FormatError } from '../errors.ts';
import { ProtoReader, protoString, WIRE_FIXED32, WIRE_LEN, WIRE_VARINT } from './protobuf.ts';

/** SentencePiece piece types (same numbering as GGUF `tokenizer.ggml.token_type`). */
export const PieceType = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

export interface SpmPiece {
  piece: string;
  score: number;
  type: number;
}

export interface SpmModel {
  pieces: SpmPiece[];
  modelType: 'unigram' | 'bpe';
  byteFallback: boolean;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  /** Normalization rule name: "identity", "nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf", ... */
  normalizerName: string;
  precompiledCharsmap: Uint8Array | undefined;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

const MODEL_TYPES: Record<number, SpmModel['modelType'] | undefined> = { 1: 'unigram', 2: 'bpe' };

export function parseSentencePieceModel(buf: Uint8Array, file = 'tokenizer.model'): SpmModel {
  const pieces: SpmPiece[] = [];
  // Defaults are the proto's declared defaults (absent field = default value).
  const model: SpmModel = {
    pieces,
    modelType: 'unigram',
    byteFallback: false,
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    normalizerName: 'nmt_nfkc',
    precompiledCharsmap: undefined,
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  };
  let rawModelType = 1;
  const top = new ProtoReader(buf, file);
  while (!top.done) {
    const f = top.next();
    if (f.wire !== WIRE_LEN) continue;
    if (f.field === 1) pieces.push(parsePiece(f.bytes, file));
    else if (f.field === 2) rawModelType = parseTrainerSpec(f.bytes, file, model);
    else if (f.field === 3) parseNormalizerSpec(f.bytes, file, model);
  }
  if (pieces.length === 0) throw new FormatError(file, 'pieces', 'no pieces: not a SentencePiece model');
  const modelType = MODEL_TYPES[rawModelType];
  if (!modelType) {
    // WORD (3) and CHAR (4) models are rare and not produced by any model slmkit targets.
    throw new FormatError(file, 'trainer_spec.model_type', `unsupported SentencePiece model type ${rawModelType}`);
  }
  model.modelType = modelType;
  for (const [name, id] of [['unk_id', model.unkId], ['bos_id', model.bosId], ['eos_id', model.eosId], ['pad_id', model.padId]] as const) {
    if (id >= pieces.length) throw new FormatError(file, `trainer_spec.${name}`, `id ${id} >= piece count ${pieces.length}`);
  }
  return model;
}

function parsePiece(bytes: Uint8Array, file: string): SpmPiece {
  const p: SpmPiece = { piece: '', score: 0, type: PieceType.NORMAL };
  const r = new ProtoReader(bytes, file);
  while (!r.done) {
    const f = r.next();
    if (f.field === 1 && f.wire === WIRE_LEN) p.piece = protoString(f);
    else if (f.field === 2 && f.wire === WIRE_FIXED32) p.score = f.float32;
    else if (f.field === 3 && f.wire === WIRE_VARINT) p.type = f.varint;
  }
  return p;
}

function parseTrainerSpec(bytes: Uint8Array, file: string, model: SpmModel): number {
  let modelType = 1;
  const r = new ProtoReader(bytes, file);
  while (!r.done) {
    const f = r.next();
    if (f.wire !== WIRE_VARINT) continue;
    switch (f.field) {
      case 3: modelType = f.varint; break;
      case 35: model.byteFallback = f.varint !== 0; break;
      case 40: model.unkId = f.varintLow32; break;
      case 41: model.bosId = f.varintLow32; break;
      case 42: model.eosId = f.varintLow32; break;
      case 43: model.padId = f.varintLow32; break;
    }
  }
  return modelType;
}

function parseNormalizerSpec(bytes: Uint8Array, file: string, model: SpmModel): void {
  const r = new ProtoReader(bytes, file);
  while (!r.done) {
    const f = r.next();
    if (f.field === 1 && f.wire === WIRE_LEN) model.normalizerName = protoString(f);
    else if (f.field === 2 && f.wire === WIRE_LEN) model.precompiledCharsmap = f.bytes.length ? f.bytes : undefined;
    else if (f.field === 3 && f.wire === WIRE_VARINT) model.addDummyPrefix = f.varint !== 0;
    else if (f.field === 4 && f.wire === WIRE_VARINT) model.removeExtraWhitespaces = f.varint !== 0;
    else if (f.field === 5 && f.wire === WIRE_VARINT) model.escapeWhitespaces = f.varint !== 0;
  }
}
