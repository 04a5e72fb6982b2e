// Chat templates: TinyLlama's template renders as documented (seed-models.md §1), the
// template's own BOS is not doubled by the tokenizer's, and real GGUF/tokenizer.json
// templates work end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SlmError } from '../../src/errors.ts';
import { HfTokenizer, loadTokenizer, sentencePieceSource, type TokenizerConfig } from '../../src/tokenizer/index.ts';
import { LLAMACPP, NO_SHARED, TOK } from './helpers.ts';
import { encodeModelProto, tinyPieces, TINY_NORMAL } from './tiny-spm.ts';

// TinyLlama-1.1B-Chat-v1.0 tokenizer_config.json chat_template (the JSON string decoded:
// every \n is a newline, including those inside the Jinja string literals).
const TINYLLAMA_TEMPLATE =
  "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

// A Llama-2-chat style template that starts with {{ bos_token }} (as Llama-2's and Phi-3's do).
const BOS_TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ '[' + m['role'] + '] ' + m['content'] + ' ' }}{% endfor %}";

function tiny(config: TokenizerConfig): HfTokenizer {
  const bytes = encodeModelProto(tinyPieces(TINY_NORMAL), { modelType: 2, byteFallback: true, addDummyPrefix: true, removeExtraWhitespaces: false });
  return new HfTokenizer(sentencePieceSource(bytes, 'tiny.model', { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true, ...config }));
}

test('TinyLlama template renders as documented (trim_blocks + lstrip_blocks)', () => {
  const tok = tiny({ chat_template: TINYLLAMA_TEMPLATE });
  const messages = [
    { role: 'system', content: 'SYS' },
    { role: 'user', content: 'Hi' },
  ];
  assert.equal(tok.applyChatTemplate(messages, { addGenerationPrompt: true }), '<|system|>\nSYS</s>\n<|user|>\nHi</s>\n<|assistant|>\n');
  assert.equal(tok.applyChatTemplate(messages), '<|system|>\nSYS</s>\n<|user|>\nHi</s>\n');
  // The tokenizer prepends <s> (the template does not emit it); </s> in the text is the EOS id.
  const ids = tok.encodeChat(messages, { addGenerationPrompt: true });
  assert.equal(ids[0], 1);
  assert.equal(ids.filter((id) => id === 1).length, 1);
  assert.equal(ids.filter((id) => id === 2).length, 2);
});

test('no double BOS when the template emits bos_token and the tokenizer adds one', () => {
  const tok = tiny({ chat_template: BOS_TEMPLATE });
  const messages = [{ role: 'user', content: 'hello' }];
  const text = tok.applyChatTemplate(messages);
  assert.equal(text, '<s>[user] hello ');
  // Plain encode would give <s><s>: the case the dedupe exists for.
  assert.deepEqual(tok.encode(text).slice(0, 2), [1, 1]);
  const ids = tok.encodeChat(messages);
  assert.equal(ids[0], 1);
  assert.notEqual(ids[1], 1);
  assert.deepEqual(ids, tok.encode(text).slice(1));
  // Without a template BOS, encodeChat still adds the tokenizer's.
  const plain = tiny({ chat_template: '{{ messages[0].content }}' });
  assert.deepEqual(plain.encodeChat(messages), plain.encode('hello'));
});

test('named templates, missing template and raise_exception', () => {
  const tok = tiny({
    chat_template: [
      { name: 'default', template: '{{ messages[0].content }}' },
      { name: 'tool_use', template: "{{ 'tools:' + tools|length|string }}" },
      { name: 'strict', template: "{% if messages[0].role != 'user' %}{{ raise_exception('first message must be user') }}{% endif %}ok" },
    ],
  });
  assert.equal(tok.applyChatTemplate([{ role: 'user', content: 'x' }]), 'x');
  assert.equal(tok.applyChatTemplate([], { templateName: 'tool_use', extra: { tools: [1, 2] } }), 'tools:2');
  assert.throws(() => tok.applyChatTemplate([{ role: 'assistant', content: 'x' }], { templateName: 'strict' }), /first message must be user/);
  assert.throws(() => tok.applyChatTemplate([], { templateName: 'nope' }), SlmError);
  assert.throws(() => tiny({}).applyChatTemplate([]), /no chat template/);
});

test('Phi-3 GGUF: its own template, <|user|> etc. as special ids, one BOS', { skip: NO_SHARED }, async () => {
  const tok = await loadTokenizer(join(LLAMACPP, 'ggml-vocab-phi-3.gguf'));
  assert.ok(tok.chatTemplate?.startsWith('{{ bos_token }}'));
  const messages = [{ role: 'user', content: 'Hi' }];
  assert.equal(tok.applyChatTemplate(messages), '<s><|user|>\nHi<|end|>\n<|assistant|>\n');
  const ids = tok.encodeChat(messages);
  assert.deepEqual(ids.slice(0, 2), [1, 32010]);
  assert.equal(ids.filter((id) => id === 1).length, 1);
  assert.ok(ids.includes(32007) && ids.includes(32001), '<|end|> and <|assistant|> are single ids');
});

test('Llama-2 tokenizer.json: BOS-emitting template gives one BOS', { skip: NO_SHARED }, async () => {
  const tok = await loadTokenizer(join(TOK, 'hf-vocabs', 'llama_tokenizer.json'), {
    config: { add_bos_token: true, bos_token: '<s>', eos_token: '</s>', chat_template: BOS_TEMPLATE },
  });
  const ids = tok.encodeChat([{ role: 'user', content: 'Hello' }]);
  assert.equal(ids[0], 1);
  assert.notEqual(ids[1], 1);
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), '[user] Hello ');
});
