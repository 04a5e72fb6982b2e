// Scoring candidates with a trained verifier folder (verifier-train.ts): the trunk plus scalar
// head as one forward graph compiled for onnxruntime, rows right-padded to a fixed shape, and
// the score of a candidate = sigmoid(head) at its last token (the EOS encodeCandidate appends),
// as the paper reads it.
import { join } from 'node:path';
import { Graph } from '../../ir/graph.ts';
import * as b from '../../ir/builder.ts';
import { VarBuilder } from '../../nn/var-builder.ts';
import { openModelFolder } from '../../formats/model-folder.ts';
import { CheckpointStore } from '../../models/checkpoint-store.ts';
import { causalLMArch } from '../../models/registry.ts';
import { loadTokenizer } from '../../tokenizer/index.ts';
import { compile, type CompiledGraph } from '../../runtime/session.ts';
import { SlmError } from '../../errors.ts';
import { encodeCandidate, verifierLogits, type CandidateEncoder } from './verifier.ts';
import type { VerifierMeta } from './verifier-train.ts';

export interface Verifier {
  readonly seqLen: number;
  /** Score in [0, 1] of each candidate; candidates longer than seqLen keep their last seqLen tokens. */
  score(items: readonly { prompt: string; completion: string }[], signal?: AbortSignal): Promise<number[]>;
  dispose(): Promise<void>;
}

export interface LoadVerifierOptions {
  threads?: number;
  /** Rows per forward call. Default 8. */
  batch?: number;
  cacheDir?: string | false;
}

export async function loadVerifier(path: string, o: LoadVerifierOptions = {}): Promise<Verifier> {
  const folder = await openModelFolder(path);
  const meta = folder.config.slmkit_verifier as VerifierMeta | undefined;
  if (!meta || typeof meta !== 'object' || typeof meta.seq_len !== 'number') {
    throw new SlmError('INVALID_ARGUMENT', `${join(path, 'config.json')}: no "slmkit_verifier" entry; this is not a verifier folder (train one with \`slm math verify-train\`)`);
  }
  const configFile = join(path, 'config.json');
  const arch = causalLMArch(folder.config.model_type, configFile);
  const config = arch.parseConfig(folder.config, configFile);
  const checkpoint = await folder.openWeights();
  let cg: CompiledGraph | undefined;
  try {
    const tok = await loadTokenizer(path);
    if (tok.eosId === undefined) throw new SlmError('INVALID_ARGUMENT', `${path}: the tokenizer has no EOS token`);
    const enc: CandidateEncoder = { encode: (t) => tok.encode(t, { addSpecialTokens: false }), bosId: tok.bosId, eosId: tok.eosId };
    const B = o.batch ?? 8;
    const S = meta.seq_len;
    const g = new Graph(`${arch.modelType}-verifier-score`);
    const vb = new VarBuilder(g, new CheckpointStore(checkpoint), { dtype: 'float32', linear: 'float32' });
    const inputIds = g.input('input_ids', 'int64', [B, S]);
    const positions = g.input('position_ids', 'int64', [B, S]);
    g.setOutputs({ scores: b.sigmoid(verifierLogits(vb, arch, config, inputIds, positions)) });
    cg = await compile(g, { threads: o.threads, cacheDir: o.cacheDir ?? false });
    const graph = cg;
    const ids = new BigInt64Array(B * S);
    const pos = BigInt64Array.from({ length: B * S }, (_, i) => BigInt(i % S));
    return {
      seqLen: S,
      async score(items, signal) {
        const out: number[] = [];
        for (let start = 0; start < items.length; start += B) {
          if (signal?.aborted) throw new SlmError('ABORTED', 'verifier scoring was aborted');
          const chunk = items.slice(start, start + B);
          ids.fill(BigInt(enc.eosId));
          const last: number[] = [];
          chunk.forEach((it, r) => {
            let row = encodeCandidate(enc, it.prompt, it.completion).ids;
            if (row.length > S) row = row.slice(row.length - S); // keep the solution and its end
            for (let p = 0; p < row.length; p++) ids[r * S + p] = BigInt(row[p]!);
            last.push(row.length - 1);
          });
          const res = await graph.run({ input_ids: { dtype: 'int64', shape: [B, S], data: ids }, position_ids: { dtype: 'int64', shape: [B, S], data: pos } }, ['scores']);
          const s = res.scores!.data as Float32Array;
          last.forEach((p, r) => out.push(s[r * S + p]!));
        }
        return out;
      },
      async dispose() {
        await graph.dispose();
        await checkpoint.close();
      },
    };
  } catch (e) {
    await cg?.dispose();
    await checkpoint.close();
    throw e;
  }
}
