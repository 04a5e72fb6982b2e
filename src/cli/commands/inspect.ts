// `slm inspect <path>`: what a checkpoint file, shard index or model folder holds: a config
// summary (inspect-summary.ts), format, model type, tensors (name, dtype, shape) and parameter
// count. Reads headers only. A file of no known format gets the same error as `slm generate`.
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Command } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { openCheckpoint } from '../../formats/open-checkpoint.ts';
import { openModelFolder, GGUF_ARCHITECTURE_TO_MODEL_TYPE, canonicalModelType } from '../../formats/model-folder.ts';
import { parameterCount, type Checkpoint } from '../../formats/checkpoint.ts';
import type { GgufFile } from '../../formats/gguf/reader.ts';
import { notAModelFileError, sniffCheckpointFile } from '../../formats/sniff.ts';
import { resolveModelArgument } from '../resolve-model.ts';
import { folderSummary, ggufSummary, summaryLines, weightsOnlySummary, type ConfigSummary } from '../inspect-summary.ts';

/** Metadata made printable: big arrays summarized, bigints as strings. */
function summarize(metadata: Record<string, unknown>, types?: GgufFile['metadataTypes']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v === 'bigint') out[k] = v.toString();
    else if (ArrayBuffer.isView(v) || Array.isArray(v)) {
      const len = (v as ArrayLike<unknown>).length;
      out[k] = len <= 8 && !(v instanceof BigInt64Array || v instanceof BigUint64Array)
        ? Array.from(v as ArrayLike<unknown>)
        : { array: types?.[k]?.itemType ?? 'unknown', length: len };
    } else out[k] = v;
  }
  return out;
}

const inspect: Command = {
  name: 'inspect',
  summary: 'show the format, model type, tensors and parameter count of a checkpoint or model folder',
  usage: '<file|folder|index.json> [--json]',
  options: {
    json: { type: 'boolean', description: 'print one JSON object: path, summary {architecture, layers, hidden_size, heads, kv_heads, context_length, vocab_size, parameters, dtype, tokenizer, chat_template}, format, model_type, declared_model_type, files, tensor_count, parameter_count, metadata, tensors [{name, dtype, shape}]' },
  },
  async run({ values, positionals }, io) {
    let [path] = positionals;
    if (!path || positionals.length > 1) {
      io.stderr.write('slm inspect: expected exactly one path\n');
      return 2;
    }
    // A path that does not exist may name a cached model (org/name); else the one not-a-model error.
    if (!existsSync(path)) path = (await resolveModelArgument([path], { textAllowed: false })).model;
    const st = await stat(path).catch(() => undefined);
    if (!st) throw new SlmError('NOT_FOUND', `no such file or folder: ${path}`);
    let modelType: string | undefined;
    let declaredModelType: string | undefined;
    let ckpt: Checkpoint;
    let summaryOf: ((c: Checkpoint) => ConfigSummary) | undefined;
    if (st.isDirectory()) {
      const folder = await openModelFolder(path, { allowUnsupported: true });
      modelType = folder.modelType;
      declaredModelType = folder.declaredModelType;
      ckpt = await folder.openWeights();
      if (Object.keys(folder.config).length > 0) summaryOf = (c) => folderSummary(path, folder.config, folder.tokenizerConfig, c);
    } else {
      if (!path.endsWith('.index.json')) {
        const { format, head } = await sniffCheckpointFile(path);
        if (!format) throw notAModelFileError(path, head);
      }
      ckpt = await openCheckpoint(path);
    }
    try {
      let metadata: Record<string, unknown> = ckpt.metadata;
      if (ckpt.format === 'gguf') {
        const g = ckpt as unknown as GgufFile;
        const arch = g.metadata['general.architecture'];
        if (typeof arch === 'string' && !declaredModelType) {
          declaredModelType = GGUF_ARCHITECTURE_TO_MODEL_TYPE[arch] ?? arch;
          modelType = canonicalModelType(declaredModelType);
        }
        metadata = summarize(g.metadata, g.metadataTypes);
        summaryOf ??= (c) => ggufSummary(g.metadata, c);
      }
      const summary = (summaryOf ?? weightsOnlySummary)(ckpt);
      const tensors = [...ckpt.tensors.values()].map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape }));
      const report = {
        path,
        format: ckpt.format,
        ...(declaredModelType !== undefined ? { model_type: modelType ?? null, declared_model_type: declaredModelType } : {}),
        summary,
        files: ckpt.files,
        tensor_count: tensors.length,
        parameter_count: parameterCount(ckpt.tensors.values()),
        metadata,
        tensors,
      };
      if (values.json) {
        io.stdout.write(JSON.stringify(report) + '\n');
        return 0;
      }
      const lines = [
        ...summaryLines(summary),
        '',
        `format:      ${report.format}`,
        ...(declaredModelType !== undefined ? [`model_type:  ${declaredModelType}${modelType && modelType !== declaredModelType ? ` (as ${modelType})` : ''}${modelType ? '' : ' (not supported by slmkit)'}`] : []),
        `files:       ${report.files.length}`,
        `tensors:     ${report.tensor_count}`,
      ];
      const metaKeys = Object.keys(metadata);
      if (metaKeys.length) {
        lines.push('', 'metadata:');
        for (const k of metaKeys) lines.push(`  ${k} = ${JSON.stringify(metadata[k])}`);
      }
      if (tensors.length) {
        lines.push('', 'tensors:');
        const w = Math.min(60, Math.max(...tensors.map((t) => t.name.length)));
        for (const t of tensors) lines.push(`  ${t.name.padEnd(w)}  ${t.dtype.padEnd(5)}  [${t.shape.join(', ')}]`);
      }
      io.stdout.write(lines.join('\n') + '\n');
      return 0;
    } finally {
      await ckpt.close();
    }
  },
};

export default inspect;
