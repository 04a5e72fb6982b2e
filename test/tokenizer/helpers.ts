// Shared by the tokenizer tests: where the fixtures are, the llama.cpp test-tokenizer-0
// vector format, and temporary model folders assembled from fixture files.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SHARED = join(ROOT, '..', 'shared');
export const TOK = join(SHARED, 'fixtures', 'tokenizers');
export const LLAMACPP = join(TOK, 'llama.cpp', 'models');
export const NO_SHARED: string | false = !existsSync(TOK) && 'needs ../shared (tokenizer fixtures)';

export interface Vector {
  text: string;
  ids: number[];
}

/**
 * llama.cpp test-tokenizer-0 format: `<name>.gguf.inp` holds the inputs joined by
 * "\n__ggml_vocab_test__\n" (with a trailing separator), `<name>.gguf.out` one line of
 * space-separated ids per input, encoded without BOS/EOS.
 */
export function llamaCppVectors(name: string): Vector[] {
  const inputs = readFileSync(join(LLAMACPP, `ggml-vocab-${name}.gguf.inp`), 'utf8').split('\n__ggml_vocab_test__\n');
  if (inputs.at(-1) === '') inputs.pop();
  const outputs = readFileSync(join(LLAMACPP, `ggml-vocab-${name}.gguf.out`), 'utf8').split('\n');
  if (outputs.length < inputs.length) throw new Error(`${name}: ${inputs.length} inputs but ${outputs.length} output lines`);
  return inputs.map((text, i) => {
    const line = outputs[i].trim();
    return { text, ids: line === '' ? [] : line.split(/\s+/).map(Number) };
  });
}

/** A temporary model folder: `files` maps a name in the folder to a source path or JSON value. */
export function tempModelDir(files: Record<string, string | { json: unknown }>): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'slm-tok-'));
  for (const [name, src] of Object.entries(files)) {
    if (typeof src === 'string') copyFileSync(src, join(dir, name));
    else writeFileSync(join(dir, name), JSON.stringify(src.json));
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * phi-2 (CodeGen) whitespace tokens, as the fixture README states them: n spaces
 * (n = 2..31) -> id 50288 - n and n tabs (n = 2..9) -> id 50296 - n.
 */
export function phi2WhitespaceTokens(): Record<string, number> {
  const out: Record<string, number> = {};
  for (let n = 31; n >= 2; n--) out[' '.repeat(n)] = 50288 - n;
  for (let n = 9; n >= 2; n--) out['\t'.repeat(n)] = 50296 - n;
  return out;
}

/** Mixed multi-byte text: emoji (4-byte, ZWJ sequence), CJK, Greek, Vietnamese, dashes. */
export const MULTIBYTE_TEXT = 'Hello 🦙 world — 日本語のテキスト, emoji 😶‍🌫️ and Ελληνικά. Cửa Việt ✅🚀 我想在apple工作';
