// A minimal protocol-buffers wire-format reader: just enough to walk a SentencePiece
// ModelProto without a protobuf dependency or generated code. Every length is checked
// against the bytes actually present, so a corrupt file fails with FormatError instead
// of reading out of bounds or allocating by an untrusted size.
import { FormatError } from '../errors.ts';

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

export interface ProtoField {
  field: number;
  wire: number;
  /** Varint value as a JS number (exact below 2^53; fields we read are small). */
  varint: number;
  /** Low 32 bits of the varint, for int32 fields whose negatives use 10-byte encoding. */
  varintLow32: number;
  /** For length-delimited fields: the payload (a view, not a copy). */
  bytes: Uint8Array;
  /** For fixed32 fields: the little-endian float interpretation. */
  float32: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

export class ProtoReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly buf: Uint8Array,
    private readonly file: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  private fail(msg: string): never {
    throw new FormatError(this.file, 'protobuf', `${msg} at byte ${this.pos}`);
  }

  private readVarintRaw(): { value: number; low32: number } {
    let value = 0;
    let low32 = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) this.fail('truncated varint');
      const b = this.buf[this.pos++];
      const bits = b & 0x7f;
      value += bits * scale;
      if (i < 5) low32 |= bits << (7 * i); // bits past 32 shift out, as int32 decoding requires
      scale *= 128;
      if ((b & 0x80) === 0) return { value, low32: low32 | 0 };
    }
    this.fail('varint longer than 10 bytes');
  }

  /** Reads the next field of the current message. */
  next(): ProtoField {
    const key = this.readVarintRaw().value;
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) this.fail('field number 0');
    const out: ProtoField = { field, wire, varint: 0, varintLow32: 0, bytes: EMPTY, float32: 0 };
    switch (wire) {
      case WIRE_VARINT: {
        const v = this.readVarintRaw();
        out.varint = v.value;
        out.varintLow32 = v.low32;
        break;
      }
      case WIRE_FIXED64:
        if (this.pos + 8 > this.buf.length) this.fail('truncated fixed64');
        this.pos += 8;
        break;
      case WIRE_LEN: {
        const len = this.readVarintRaw().value;
        if (len > this.buf.length - this.pos) this.fail(`length ${len} runs past the end`);
        out.bytes = this.buf.subarray(this.pos, this.pos + len);
        this.pos += len;
        break;
      }
      case WIRE_FIXED32:
        if (this.pos + 4 > this.buf.length) this.fail('truncated fixed32');
        out.float32 = this.view.getFloat32(this.pos, true);
        this.pos += 4;
        break;
      default:
        // Groups (3/4) are deprecated and never appear in SentencePiece models.
        this.fail(`unsupported wire type ${wire}`);
    }
    return out;
  }
}

const EMPTY = new Uint8Array(0);

export function protoString(f: ProtoField): string {
  return utf8.decode(f.bytes);
}
