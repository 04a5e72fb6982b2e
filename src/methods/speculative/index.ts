export { speculativeGenerate, type SpeculativeOptions, type SpeculativeResult, type SpeculativeStats } from './speculative.ts';
export { ModelDraft, PromptLookupDraft, type DraftSource, type DraftProposal } from './draft.ts';
export { SpeculativeStepper, type ServedSpeculation } from './stepper.ts';
export { verifyBlock, type BlockOutcome } from './verify.ts';
