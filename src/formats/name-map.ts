// Reversible tensor-name table between Hugging Face checkpoints and GGUF (llama.cpp names),
// used both when loading a GGUF and when saving one, plus llama.cpp's Q/K row permutation.
//
// Llama: convert_hf_to_gguf.py reorders the rows of q_proj/k_proj (weights and biases) within
// each head from HF's rotate-half RoPE layout to interleaved pairs: viewing the rows of a head
// as [2, head_dim/2] it swaps the two axes, so HF row j*head_dim/2 + i goes to GGUF row 2i + j.
// k_proj uses the number of KV heads. Phi (GGUF architecture "phi2") keeps q/k/v separate when
// converted from the native HF layout and is not permuted (it uses NeoX-style RoPE in llama.cpp).
// Qwen2 has Llama's names and NeoX RoPE (not permuted). Phi-3 keeps its stacked projections:
// qkv_proj -> attn_qkv, gate_up_proj -> ffn_up (gate rows first, as llama.cpp's SwiGLU splits it).
import { SlmError } from '../errors.ts';

export type NameMapArch = 'llama' | 'phi' | 'qwen2' | 'phi3' | 'bert';

/** `general.architecture` value llama.cpp uses for each. */
export const GGUF_ARCHITECTURE: Record<NameMapArch, string> = { llama: 'llama', phi: 'phi2', qwen2: 'qwen2', phi3: 'phi3', bert: 'bert' };

// [HF prefix, GGUF prefix]; {N} is the layer number. A `.weight` or `.bias` suffix is carried over.
const RULES: Record<Exclude<NameMapArch, 'qwen2'>, [string, string][]> = {
  llama: [
    ['model.embed_tokens', 'token_embd'],
    ['model.norm', 'output_norm'],
    ['lm_head', 'output'],
    ['model.layers.{N}.input_layernorm', 'blk.{N}.attn_norm'],
    ['model.layers.{N}.self_attn.q_proj', 'blk.{N}.attn_q'],
    ['model.layers.{N}.self_attn.k_proj', 'blk.{N}.attn_k'],
    ['model.layers.{N}.self_attn.v_proj', 'blk.{N}.attn_v'],
    ['model.layers.{N}.self_attn.o_proj', 'blk.{N}.attn_output'],
    ['model.layers.{N}.post_attention_layernorm', 'blk.{N}.ffn_norm'],
    ['model.layers.{N}.mlp.gate_proj', 'blk.{N}.ffn_gate'],
    ['model.layers.{N}.mlp.up_proj', 'blk.{N}.ffn_up'],
    ['model.layers.{N}.mlp.down_proj', 'blk.{N}.ffn_down'],
  ],
  phi: [
    ['model.embed_tokens', 'token_embd'],
    ['model.final_layernorm', 'output_norm'],
    ['lm_head', 'output'],
    ['model.layers.{N}.input_layernorm', 'blk.{N}.attn_norm'],
    ['model.layers.{N}.self_attn.q_proj', 'blk.{N}.attn_q'],
    ['model.layers.{N}.self_attn.k_proj', 'blk.{N}.attn_k'],
    ['model.layers.{N}.self_attn.v_proj', 'blk.{N}.attn_v'],
    ['model.layers.{N}.self_attn.dense', 'blk.{N}.attn_output'],
    ['model.layers.{N}.mlp.fc1', 'blk.{N}.ffn_up'],
    ['model.layers.{N}.mlp.fc2', 'blk.{N}.ffn_down'],
  ],
  phi3: [
    ['model.embed_tokens', 'token_embd'],
    ['model.norm', 'output_norm'],
    ['lm_head', 'output'],
    ['model.layers.{N}.input_layernorm', 'blk.{N}.attn_norm'],
    ['model.layers.{N}.self_attn.qkv_proj', 'blk.{N}.attn_qkv'],
    ['model.layers.{N}.self_attn.o_proj', 'blk.{N}.attn_output'],
    ['model.layers.{N}.post_attention_layernorm', 'blk.{N}.ffn_norm'],
    ['model.layers.{N}.mlp.gate_up_proj', 'blk.{N}.ffn_up'],
    ['model.layers.{N}.mlp.down_proj', 'blk.{N}.ffn_down'],
  ],
  // BERT body names without the "bert." prefix (as BertModel saves them); see bert-gguf.ts.
  bert: [
    ['embeddings.word_embeddings', 'token_embd'],
    ['embeddings.position_embeddings', 'position_embd'],
    ['embeddings.token_type_embeddings', 'token_types'],
    ['embeddings.LayerNorm', 'token_embd_norm'],
    ['encoder.layer.{N}.attention.self.query', 'blk.{N}.attn_q'],
    ['encoder.layer.{N}.attention.self.key', 'blk.{N}.attn_k'],
    ['encoder.layer.{N}.attention.self.value', 'blk.{N}.attn_v'],
    ['encoder.layer.{N}.attention.output.dense', 'blk.{N}.attn_output'],
    ['encoder.layer.{N}.attention.output.LayerNorm', 'blk.{N}.attn_output_norm'],
    ['encoder.layer.{N}.intermediate.dense', 'blk.{N}.ffn_up'],
    ['encoder.layer.{N}.output.dense', 'blk.{N}.ffn_down'],
    ['encoder.layer.{N}.output.LayerNorm', 'blk.{N}.layer_output_norm'],
  ],
};

interface Compiled { from: RegExp; to: string }

function compile(pattern: string, target: string): Compiled {
  const esc = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('\\{N\\}', '(\\d+)');
  return { from: new RegExp(`^${esc}(\\.weight|\\.bias)$`), to: target };
}

const HF_TO_GGUF = new Map<NameMapArch, Compiled[]>();
const GGUF_TO_HF = new Map<NameMapArch, Compiled[]>();
for (const arch of Object.keys(GGUF_ARCHITECTURE) as NameMapArch[]) {
  const rules = RULES[arch === 'qwen2' ? 'llama' : arch];
  HF_TO_GGUF.set(arch, rules.map(([hf, gg]) => compile(hf, gg)));
  GGUF_TO_HF.set(arch, rules.map(([hf, gg]) => compile(gg, hf)));
}

function apply(rules: Compiled[], name: string): string | undefined {
  for (const r of rules) {
    const m = r.from.exec(name);
    if (m) return m.length === 3 ? r.to.replace('{N}', m[1]) + m[2] : r.to + m[1];
  }
  return undefined;
}

/** GGUF name of an HF tensor, or undefined if the table has no entry for it. */
export function hfToGgufName(arch: NameMapArch, hfName: string): string | undefined {
  return apply(HF_TO_GGUF.get(arch)!, hfName);
}

/** HF name of a GGUF tensor, or undefined if the table has no entry for it. */
export function ggufToHfName(arch: NameMapArch, ggufName: string): string | undefined {
  return apply(GGUF_TO_HF.get(arch)!, ggufName);
}

/**
 * How many heads llama.cpp's Q/K permutation uses for this HF tensor, or undefined when the
 * tensor is stored unpermuted. q_proj uses the attention heads, k_proj the KV heads.
 */
export function qkPermuteHeads(arch: NameMapArch, hfName: string, heads: { numHeads: number; numKvHeads?: number }): number | undefined {
  if (arch !== 'llama') return undefined;
  if (/\.self_attn\.q_proj\.(weight|bias)$/.test(hfName)) return heads.numHeads;
  if (/\.self_attn\.k_proj\.(weight|bias)$/.test(hfName)) return heads.numKvHeads ?? heads.numHeads;
  return undefined;
}

type RowData = Float32Array | Float64Array | Uint16Array | Uint8Array | Int8Array | Int16Array | Int32Array | BigInt64Array;

/**
 * HF -> GGUF row order (llama.cpp's `permute`). `data` holds `rows` rows of equal length in
 * any element type (for quantized tensors pass the raw bytes: ggml blocks never span rows).
 */
export function permuteQkForGguf<T extends RowData>(data: T, rows: number, nHead: number): T {
  return permuteRows(data, rows, nHead, true);
}

/** GGUF -> HF row order: the inverse of permuteQkForGguf. */
export function unpermuteQkFromGguf<T extends RowData>(data: T, rows: number, nHead: number): T {
  return permuteRows(data, rows, nHead, false);
}

function permuteRows<T extends RowData>(data: T, rows: number, nHead: number, toGguf: boolean): T {
  if (!Number.isInteger(nHead) || nHead <= 0 || rows % (2 * nHead) !== 0 || data.length % rows !== 0) {
    throw new SlmError('SHAPE_MISMATCH', `cannot permute ${rows} rows into ${nHead} heads of even size`);
  }
  const rowLen = data.length / rows;
  const headDim = rows / nHead;
  const halfDim = headDim / 2;
  const out = new (data.constructor as { new (n: number): T })(data.length);
  for (let h = 0; h < nHead; h++) {
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < halfDim; i++) {
        const hfRow = h * headDim + j * halfDim + i;
        const ggRow = h * headDim + 2 * i + j;
        const [src, dst] = toGguf ? [hfRow, ggRow] : [ggRow, hfRow];
        (out as Uint8Array).set((data as Uint8Array).subarray(src * rowLen, (src + 1) * rowLen), dst * rowLen);
      }
    }
  }
  return out;
}
