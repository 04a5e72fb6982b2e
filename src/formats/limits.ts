// Limits the checkpoint loaders enforce on untrusted files (docs/limits.md lists them with the
// server's). A real torch.save pickle is small: the tensors are separate stored zip entries, and
// even a model with thousands of tensors pickles to a few MB.

export interface PickleLimits {
  /** Decompressed size of a `data.pkl` entry; checked before and while inflating. */
  maxBytes: number;
  /** Items on the unpickler's stack (MARKs included). */
  maxStack: number;
  /** Entries in the unpickler's memo. */
  maxMemo: number;
  /** Items in one list, tuple or dict built by the unpickler. */
  maxContainerItems: number;
}

export const DEFAULT_PICKLE_LIMITS: Readonly<PickleLimits> = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  maxStack: 1 << 20,
  maxMemo: 1 << 20,
  maxContainerItems: 1 << 22,
});
