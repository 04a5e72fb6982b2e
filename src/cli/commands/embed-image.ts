// `slm embed <clip-model> --image FILE...`: one CLIP image embedding per file (image_embeds of a
// CLIPVisionModelWithProjection / CLIPModel folder, else pooler_output), in the same output
// format as text embeddings (space-separated numbers, or --json arrays), in the files' order.
import type { CommandIO } from '../command.ts';
import { ClipImageEncoder } from '../../models/clip-load.ts';

export async function runImageEmbed(model: string, images: readonly string[], o: { json: boolean; normalize: boolean; threads?: number }, io: CommandIO): Promise<number> {
  const enc = await ClipImageEncoder.load(model, { threads: o.threads });
  try {
    for (const f of images) {
      const [v] = await enc.embed([f], { normalize: o.normalize, signal: io.signal });
      io.stdout.write(o.json ? `${JSON.stringify(Array.from(v!))}\n` : `${Array.from(v!).join(' ')}\n`);
    }
  } finally {
    await enc.dispose();
  }
  return 0;
}
