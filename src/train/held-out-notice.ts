// The warning when evaluation is on but the data is a single document: the held-out split works
// on whole documents, so there is nothing to hold out. The usual cause is a plain-text file
// without the documentSeparator string in it; the warning names the key and its value.

export function singleDocumentWarning(files: readonly string[], documents: number, documentSeparator: string | null | undefined): string {
  const sep =
    documentSeparator === undefined ? 'the default "<|endoftext|>"' : documentSeparator === null ? 'null: one document per file' : JSON.stringify(documentSeparator);
  return (
    `warning: the data (${files.length} file${files.length === 1 ? '' : 's'}) is ${documents} document${documents === 1 ? '' : 's'}, so nothing can be held out ` +
    `for evaluation and evaluation is off. Plain-text files are split into documents at documentSeparator (${sep}): ` +
    'set documentSeparator to a string your text has between documents (e.g. "\\n\\n" for blank lines), give several files, ' +
    'or set evalEvery to 0 to train without evaluation.'
  );
}
