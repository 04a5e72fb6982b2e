export { compileSchema, compileSchemaCached, validateValue, anyNode, UnsupportedSchemaError, type SchemaNode, type JsonKind } from './json-schema.ts';
export { JsonPrefixRecognizer, type JsonPrefixState, type JsonPrefixLimits } from './json-prefix.ts';
export { JsonSchemaConstraint, buildTokenTrie, tokenTexts, tokenTextFn, type TokenTrie } from './token-mask.ts';
export { ToolCallConstraint, type ToolCallGrammar, type ToolCallTool } from './tool-call.ts';
