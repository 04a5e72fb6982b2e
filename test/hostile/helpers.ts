// Shared pieces for the hostile-input tests (issue 18): a tiny SentencePiece tokenizer folder
// with a chosen chat template, written to a temporary directory.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeModelProto, tinyPieces, TINY_NORMAL } from '../tokenizer/tiny-spm.ts';

export function tokenizerFolder(chatTemplate?: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'slm-hostile-'));
  const bytes = encodeModelProto(tinyPieces(TINY_NORMAL), { modelType: 2, byteFallback: true, addDummyPrefix: true, removeExtraWhitespaces: false });
  writeFileSync(join(dir, 'tokenizer.model'), bytes);
  const config: Record<string, unknown> = { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true };
  if (chatTemplate !== undefined) config.chat_template = chatTemplate;
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The probe's templates (issue 18, item 1). */
export const RANGE_1E9 = '{% for i in range(10**9) %}{% endfor %}{% for m in messages %}{{ m.content }}{% endfor %}';
export const NESTED_RANGE = '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{% for m in messages %}{{ m.content }}{% endfor %}';

/** Resolves with how long /health took to answer 200 (ms). */
export async function healthLatency(url: string): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
  if (r.status !== 200) throw new Error(`/health answered ${r.status}`);
  return performance.now() - t0;
}
