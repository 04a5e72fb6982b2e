// `slm generate <llava-model> --image FILE -p TEXT`: one question about one picture with a
// LLaVA-Phi model (src/models/llava-load.ts), greedy unless --temperature. The question is put
// in the model's phi-2_v0 conversation as "<image>\n{question}".
import type { CommandIO } from '../command.ts';
import { loadLlava, phi2V0Prompt, type LoadLlavaOptions } from '../../models/llava-load.ts';
export { isLlavaModel } from '../../models/llava-load.ts';
import { imagePixels } from '../../vision/load-image.ts';
import { SlmError } from '../../errors.ts';

export async function runLlavaGenerate(o: { model: string; prompt: string; images: string[]; maxTokens?: number; temperature?: number; seed?: number; json: boolean; load: LoadLlavaOptions }, io: CommandIO): Promise<number> {
  if (o.images.length > 1) throw new SlmError('INVALID_ARGUMENT', 'one --image per request (LLaVA-Phi was trained with one image per conversation)');
  const m = await loadLlava(o.model, o.load);
  try {
    const pixels = [];
    for (const f of o.images) pixels.push(await imagePixels(f, m.imageSize, m.config.imageAspectRatio === 'pad'));
    const question = o.images.length ? `<image>\n${o.prompt}` : o.prompt;
    const prompt = phi2V0Prompt([{ role: 'user', content: question }]);
    const t0 = performance.now();
    const r = await m.generate(prompt, pixels, { maxTokens: o.maxTokens, temperature: o.temperature, seed: o.seed, signal: io.signal });
    const ms = performance.now() - t0;
    const finish = r.ids.length < (o.maxTokens ?? 64) ? 'stop' : 'length';
    if (o.json) io.stdout.write(`${JSON.stringify({ text: r.text, tokens: r.ids, finish_reason: finish, prompt_tokens: r.promptTokens, images: o.images.length, ms: Math.round(ms) })}\n`);
    else {
      io.stdout.write(`${r.text}\n`);
      io.stderr.write(`${r.promptTokens} prompt positions (incl. image tokens), ${r.ids.length} generated in ${ms.toFixed(0)} ms\n`);
    }
    return 0;
  } finally {
    await m.dispose();
  }
}
