// GGUF: reader, writer, (de)quantization.
export { openGguf, openGgufReader, readGgufMetadata, type GgufFile, type GgufTensorInfo } from './reader.ts';
export { writeGguf, type GgufTensorToWrite, type GgufWriteOptions, type TypedGgufValue } from './writer.ts';
export { dequantize } from './dequant.ts';
export { quantizeQ4_0, quantizeQ8_0 } from './quantize.ts';
export {
  DEQUANTIZABLE_TYPES,
  GGML_TYPES_BY_ID,
  GGML_TYPES_BY_NAME,
  GGUF_VALUE_TYPES,
  type DequantizableType,
  type GgmlTypeInfo,
  type GgufTypeInfo,
  type GgufValue,
  type GgufValueType,
} from './types.ts';
