/**
 * Sparse autoencoders on residual-stream activations: architectures (a registry),
 * hand-derived ONNX training graphs, the trainer, the on-disk activation store,
 * evaluation, and SAELens-format folders.
 */
export { ARCHITECTURES, architecture } from './architectures';
export type { SaeArchitecture, TopKConfig } from './architectures';
export type { Sae, SaeDtype, SaeMetadata } from './sae';
export { loadSae, saveSae, saeFromParts, saeToParts, SaeFormatError, CFG_FILE, WEIGHTS_FILE } from './saelens';
export { DEFAULT_TRAIN_OPTIONS, resolveTrainOptions } from './options';
export type { TrainOptions, ResolvedTrainOptions } from './options';
export { trainSae, trainSaes, SaeTrainer, TrainingDivergedError } from './train';
export type { TrainProgress, TrainHooks, TrainResult, MultiBlockSource } from './train';
export { ActivationStore, ActivationStoreWriter, ActivationStoreError, INDEX_FILE } from './activationStore';
export type { RowMeta, StoreWriterOptions, StoreReadOptions } from './activationStore';
export { memorySource, gatherRows } from './source';
export type { ActivationSource } from './source';
export { SaeSession } from './session';
export type { SaeSessionOptions } from './session';
export { reconstructionDelta, splicedRows, checkResidualWidth } from './splice';
export type { SplicePositions } from './splice';
export { evaluateSae, densityHistogram, ceLossRecovered } from './evaluate';
export type { SaeEvaluation, DensityHistogram, EvaluateOptions, CeLossResult, CeLossOptions } from './evaluate';
export { buildTrainingModel, buildGradientModel } from './trainingGraph';
export type { TrainingGraphSpec, AdamSettings } from './trainingGraph';
