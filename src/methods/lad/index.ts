export { ladTrain, type LadTrainOptions } from './train.ts';
export { evolutionarySearch, type SearchCandidate, type SearchOptions } from './search.ts';
export { encoderFlops, flopsSpeedup, formatConfig, fullConfig, sampleConfig, smallestConfig, LENGTH_DROP_MAX, type EncoderShape } from './length-config.ts';
export { parseLengthConfig, keptCounts, type LengthConfig } from '../../models/token-pruning.ts';
export { readLadData, measureConfig, tokenCounts, encoderShape, ladInputs, type LadExample, type ConfigMeasurement } from './evaluate.ts';
