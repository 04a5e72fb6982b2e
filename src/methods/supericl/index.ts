export * from './prompt.ts';
export { runSuperIcl, sampleContext, type SuperIclOptions, type SuperIclResult, type SuperIclRecord, type SuperIclMode, type LargeModel, type PluginClassifier, type CompletionOptions } from './supericl.ts';
export { localLargeModel, endpointLargeModel } from './large-model.ts';
export { readSuperIclData } from './data.ts';
