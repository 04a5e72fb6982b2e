// Checkpoint formats: read safetensors (single or sharded), GGUF (with dequantization) and
// PyTorch zip checkpoints lazily through one `Checkpoint` interface; write safetensors and
// GGUF atomically; find and classify model folders; map HF <-> GGUF tensor names.
//
//   const ckpt = await openCheckpoint('path/to/model');   // folder, file or *.index.json
//   for (const t of ckpt.tensors.values()) console.log(t.name, t.dtype, t.shape);
//   const w = await ckpt.readF32('model.embed_tokens.weight');
//   await ckpt.close();

export type { Checkpoint, CheckpointFormat, TensorInfo } from './checkpoint.ts';
export { parameterCount, combineCheckpoints } from './checkpoint.ts';
export { CHECKPOINT_DTYPES, DTYPE_BYTES, type CheckpointDType, type TensorData } from './dtypes.ts';
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, bf16ArrayToF32, f16ArrayToF32, f32ArrayToBf16, f32ArrayToF16 } from './half.ts';
export { openSafetensors, openSafetensorsIndex, type SafetensorsFile, type SafetensorsTensorInfo } from './safetensors.ts';
export { writeSafetensors, type TensorToWrite, type LazyTensorToWrite } from './safetensors-writer.ts';
export { openPytorchBin, type PytorchTensorInfo } from './pytorch.ts';
export { openCheckpoint, openPytorchIndex, findWeights, WEIGHT_FILE_NAMES, type WeightsLocation } from './open-checkpoint.ts';
export {
  openModelFolder,
  detectModelType,
  canonicalModelType,
  SUPPORTED_MODEL_TYPES,
  MODEL_TYPE_ALIASES,
  GGUF_ARCHITECTURE_TO_MODEL_TYPE,
  type ModelFolder,
} from './model-folder.ts';
export {
  hfToGgufName,
  ggufToHfName,
  qkPermuteHeads,
  permuteQkForGguf,
  unpermuteQkFromGguf,
  GGUF_ARCHITECTURE,
  type NameMapArch,
} from './name-map.ts';
export * from './gguf/index.ts';
