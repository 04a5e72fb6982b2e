// `slm merge <base> <adapter> <out>`: folds a PEFT LoRA adapter into its base model and writes
// a plain Hugging Face folder (W' = W + alpha/r · B A), loadable without PEFT.
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../command.ts';
import { openModelFolder } from '../../formats/model-folder.ts';
import { causalLMArch } from '../../models/registry.ts';
import { CheckpointStore } from '../../models/checkpoint-store.ts';
import { listWeights } from '../../nn/init-store.ts';
import { MergedLoraStore, loadPeftAdapter } from '../../train/lora.ts';
import { writeHfModelFolder, TOKENIZER_FILES } from '../../train/hf-output.ts';
import { SlmError } from '../../errors.ts';

const merge: Command = {
  name: 'merge',
  summary: 'merge a LoRA adapter (PEFT layout) into its base model, writing a Hugging Face folder',
  usage: '<base-model-dir> <adapter-dir> <out-dir> [--json]',
  options: { json: { type: 'boolean', description: 'print a JSON summary on stdout' } },
  async run({ values, positionals }, io) {
    if (positionals.length !== 3) {
      io.stderr.write('slm merge: expected <base-model-dir> <adapter-dir> <out-dir>\n');
      return 2;
    }
    const [baseDir, adapterDir, outDir] = positionals as [string, string, string];
    const folder = await openModelFolder(baseDir);
    const arch = causalLMArch(folder.modelType, join(baseDir, 'config.json'));
    const config = arch.parseConfig(folder.config, join(baseDir, 'config.json'));
    const adapter = await loadPeftAdapter(adapterDir);
    const ck = await folder.openWeights();
    try {
      const merged = new MergedLoraStore(new CheckpointStore(ck), adapter.weights, adapter.config);
      const names = listWeights(arch, config);
      const used = new Set<string>();
      for (const n of adapter.weights.names()) {
        const w = n.replace(/\.lora_[AB]\.weight$/, '.weight');
        if (!names.has(w)) throw new SlmError('INVALID_ARGUMENT', `${adapterDir}: adapter tensor ${n} has no base weight ${w} in ${baseDir}`);
        used.add(w);
      }
      const weights = [];
      for (const [name, shape] of names) weights.push({ name, shape, data: await merged.loadF32(name) });
      const gen = folder.generationConfig ?? {};
      await writeHfModelFolder(outDir, {
        arch,
        config,
        weights,
        bosTokenId: typeof gen.bos_token_id === 'number' ? gen.bos_token_id : undefined,
        eosTokenId: typeof gen.eos_token_id === 'number' ? gen.eos_token_id : undefined,
      });
      for (const f of TOKENIZER_FILES) if (existsSync(join(baseDir, f))) copyFileSync(join(baseDir, f), join(outDir, f));
      if (existsSync(join(baseDir, 'generation_config.json'))) copyFileSync(join(baseDir, 'generation_config.json'), join(outDir, 'generation_config.json'));
      const summary = { out: outDir, model_type: arch.modelType, merged_layers: used.size, r: adapter.config.r, lora_alpha: adapter.config.alpha };
      if (values.json) io.stdout.write(JSON.stringify(summary) + '\n');
      else io.stderr.write(`merged ${used.size} adapted layers into ${outDir}\n`);
      return 0;
    } finally {
      await ck.close();
    }
  },
};

export default merge;
