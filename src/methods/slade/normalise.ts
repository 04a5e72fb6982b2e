// Assembly normalisation for the SLaDe decompiler (docs/methods/slade.md, "Normalisation rules").
// One function, no addresses, no raw bytes, no directives, labels and constants renamed, so the
// asm the model sees is the same whether it came from objdump of a linked executable (the
// decompile-eval prompts), objdump -dr of an object file (our corpus) or another toolchain run.
//
// Rules, in order:
//  1. keep only the instructions of one function (objdump: from `<name>:` to the next blank line);
//  2. drop address / raw-byte columns, `#` comments and byte-continuation lines (`00`, `0f 1f`);
//  3. relocations (`R_X86_64_PLT32 strlen-0x4`, `R_AARCH64_CALL26 strlen`) are folded into the
//     instruction before them: calls name the callee, data references become `CONST`;
//  4. branch targets `11f1 <func0+0x88>` become `L<n>` numbered by first use in the function
//     (the absolute address differs between .o and executable, the offset does not);
//     calls `1050 <strlen@plt>` become `strlen`;
//  5. RIP-relative / page-relative constants (`0xeb8(%rip)`, `adrp x0, 0 <...>`) become `CONST`
//     because their address depends on the link, not on the function;
//  6. whitespace collapsed to one space; the function's own name is `func0`;
//  7. alignment padding after the last instruction (`nop`, `nopw ...`, `data16 cs nopw ...`,
//     `xchg %ax,%ax`) is dropped: the assembler or linker put it there, not the compiler.

const BYTE_LINE = /^([0-9a-f]{2}\s*)+$/;
const RELOC = /^\s*[0-9a-f]*:?\s*R_(X86_64|AARCH64)_\w+\s+(\S+)/;

/** The instruction lines of function `name` in `objdump -d [-r]` output (rules 1-3), un-normalised. */
export function extractObjdumpFunction(objdump: string, name: string): string[] | undefined {
  const lines = objdump.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^[0-9a-f]+ <${escapeRe(name)}>:\\s*$`).test(l.trim()) || l.trim() === `<${name}>:`);
  if (start < 0) return undefined;
  const out: string[] = [];
  for (let i = start + 1; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') break;
    const reloc = RELOC.exec(raw);
    if (reloc) {
      if (out.length > 0) out[out.length - 1] = foldReloc(out[out.length - 1]!, reloc[2]!);
      continue;
    }
    const cols = raw.split('\t');
    // objdump: "  addr:\tbytes\tmnemonic operands"; a line with only two columns is a byte continuation.
    if (cols.length < 3) continue;
    const ins = stripComment(cols.slice(2).join(' '));
    if (ins) out.push(ins);
  }
  return out;
}

/** objdump comments: x86 `# 2004 <sym>` (a `#` followed by a space; AArch64 immediates are `#0x1`), AArch64 `// #0`. */
function stripComment(l: string): string {
  return l.replace(/\s*\/\/.*$/, '').replace(/(^|\s)#(\s.*)?$/, '').trim();
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Rule 3: a relocation names what the instruction really refers to. */
function foldReloc(ins: string, target: string): string {
  const sym = target.replace(/[-+]0x[0-9a-f]+$/, '');
  if (/^(call|bl|jmp|b)\s/.test(ins) && !sym.startsWith('.')) return ins.replace(/\s\S+\s<[^>]+>$/, ` ${sym}`).replace(/\s[0-9a-f]+$/, ` ${sym}`);
  return ins;
}

/**
 * Normalise the instructions of one function (rules 2-6). Accepts the decompile-eval prompt form
 * (`<func0>:` header then one instruction per line) or the lines of extractObjdumpFunction.
 */
export function normaliseAsm(asm: string | string[], ownName = 'func0'): string {
  const lines = (Array.isArray(asm) ? asm : asm.split('\n')).map(stripComment).filter((l) => l !== '');
  const labels = new Map<string, string>();
  const out: string[] = [];
  for (const line0 of lines) {
    if (/^<[^>]+>:$/.test(line0) || /^[0-9a-f]+ <[^>]+>:$/.test(line0)) continue;
    if (BYTE_LINE.test(line0)) continue;
    let line = line0.replace(/\s+/g, ' ');
    // Rule 4: intra-function branch targets.
    line = line.replace(/\b[0-9a-f]+ <([^>+]+)(\+0x[0-9a-f]+)?>/g, (_m, sym: string, off: string | undefined) => {
      if (sym === ownName || sym === 'func0') {
        const key = off ?? '+0x0';
        if (!labels.has(key)) labels.set(key, `L${labels.size}`);
        return labels.get(key)!;
      }
      return sym.replace(/@plt$/, '');
    });
    // Rule 5: link-dependent addresses.
    line = line.replace(/-?0x[0-9a-f]+\(%rip\)/g, 'CONST(%rip)');
    if (/^adrp /.test(line)) line = line.replace(/,\s*\S+$/, ', CONST');
    line = line.replace(/\[(x\d+), #:lo12:[^\]]*\]/g, '[$1, CONST]');
    out.push(line);
  }
  while (out.length > 1 && /^(data16 |cs )*(nop\w*|xchg %ax,%ax)( |$)/.test(out[out.length - 1]!)) out.pop();
  return out.join('\n');
}

/** Splits normalised asm into words for the tokenizer: registers, numbers and punctuation apart. */
export function asmForModel(normalised: string): string {
  return normalised
    .split('\n')
    .map((l) => l.replace(/([(),\[\]!])/g, ' $1 ').replace(/\s+/g, ' ').trim())
    .join(' ; ');
}
